//! IMG008: an image `images.signatures` covers whose signature could not be checked: the
//! registry is down, refuses, or does not have the image, or `--offline` found no cached
//! answer. Distinct from IMG007 (the answer is no) and never a pass: a check that could not
//! look must not let the image through.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use crate::signature::Outcome;

/// The rule.
pub static RULE: Rule = Rule {
    id: "IMG008",
    family: Family::Images,
    title: "An image's signature could not be checked",
    severity: Severity::Error,
    inventory: false,
    description: "The signature of an image an `images.signatures` rule covers could not be checked: the registry could not be reached in time, refused the credentials, or does not hold the image; or the run is `--offline` and the cache (`$XDG_CACHE_HOME/tollgate/images`) holds no verification of this digest with the rule's keys (\"not verified offline\"). Reported as its own rule so a pipeline can tell \"unsigned\" from \"could not look\": lower it with `severity: {IMG008: warning}` where an unreachable registry must not block, at the price of letting unchecked images through. See docs/images.md.",
    fix: "Check that the registry is reachable and the credentials in ~/.docker/config.json (or REGISTRY_AUTH_FILE) are right, then run again; offline, run once online (`tollgate images verify` or `tollgate check`) to fill the cache.",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    for s in model.signed() {
        let Some(u) = model.images().get(s.image) else {
            continue;
        };
        let message = match &s.outcome {
            Outcome::Offline(why) => format!(
                "container {} image {} is not verified offline: {why}",
                u.container, u.written
            ),
            Outcome::Unchecked(why) => format!(
                "container {} image {}: its signature could not be checked: {why}",
                u.container, u.written
            ),
            Outcome::Verified { .. } | Outcome::Unverified { .. } => continue,
        };
        emit.at(u.resource, &u.path(), message);
    }
}
