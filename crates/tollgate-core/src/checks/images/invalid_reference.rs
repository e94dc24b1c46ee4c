//! IMG006: an image reference the container runtime cannot parse. The pod never starts
//! (`InvalidImageName`); in a repository it is a typo or a templating leftover, caught here
//! before the rollout stalls.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;

/// The rule.
pub static RULE: Rule = Rule {
    id: "IMG006",
    family: Family::Images,
    title: "An image reference is not valid",
    severity: Severity::Error,
    inventory: false,
    description: "The kubelet parses `image` by Docker's reference grammar (`[registry[:port]/]path[:tag][@digest]`: lowercase path components joined by `.`, `_`, `__` or `-`, a tag of at most 128 word characters, `.` and `-`, a digest of a known algorithm with the right number of lowercase hex digits); a reference outside it leaves the pod in `InvalidImageName`. Common causes: an uppercase letter in the repository, a leftover template variable (`${TAG}` not substituted: with `--render`, Flux's postBuild substitution has run), a digest copied short. The message names the part that is wrong.",
    fix: "Correct the reference as the message says; check the variable substitution that builds it.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for u in model.images() {
        if let Err(e) = &u.parsed {
            emit.at(
                u.resource,
                &u.path(),
                format!(
                    "container {} image `{}` is not a valid reference: {e}",
                    u.container,
                    u.written.escape_debug()
                ),
            );
        }
    }
}
