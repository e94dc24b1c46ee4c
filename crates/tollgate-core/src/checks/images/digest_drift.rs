//! IMG005: one image (same repository and tag) pinned to different digests across the
//! repository. Someone bumped one overlay and not the other, or a tag was moved between two
//! pins: the environments no longer run the same build, whatever the tags say.

use super::super::{Check, Emit, Family, Model, Rule};
use crate::finding::Severity;
use std::collections::{BTreeMap, BTreeSet};

/// The rule.
pub static RULE: Rule = Rule {
    id: "IMG005",
    family: Family::Images,
    title: "One image is pinned to different digests",
    severity: Severity::Warning,
    // It compares references across the whole set.
    inventory: true,
    description: "References to the same repository with the same tag (or with no tag) that carry different digests mean the places that use them run different builds: a digest bump that reached one overlay and not another, or a tag moved between two pins (`app:1.4@sha256:a…` here, `app:1.4@sha256:b…` there). Every reference in such a group is reported, with the digests and how many references use each, so the stale ones stand out. Different tags of one repository with different digests are normal and not reported.",
    fix: "Pin every reference of the image to the digest the tag resolves to today (or, if the difference is deliberate, give the builds different tags).",
    check: Check::Set(check),
};

fn check(model: &Model<'_>, emit: &mut Emit) {
    // (name, tag) -> digest -> uses
    let mut groups: BTreeMap<(String, Option<&str>), BTreeMap<&str, usize>> = BTreeMap::new();
    for u in model.images() {
        if let Ok(image) = &u.parsed {
            if let Some(d) = &image.digest {
                let counts = groups
                    .entry((image.name(), image.tag.as_deref()))
                    .or_default();
                let n = counts.entry(d.as_str()).or_default();
                *n = n.saturating_add(1);
            }
        }
    }
    for u in model.images() {
        let Ok(image) = &u.parsed else { continue };
        let Some(digest) = &image.digest else {
            continue;
        };
        let Some(counts) = groups.get(&(image.name(), image.tag.as_deref())) else {
            continue;
        };
        if counts.len() < 2 {
            continue;
        }
        let others: BTreeSet<String> = counts
            .iter()
            .filter(|(d, _)| **d != digest.as_str())
            .map(|(d, n)| format!("{} ({n}×)", short(d)))
            .collect();
        let what = match &image.tag {
            Some(t) => format!("{}:{t}", image.name()),
            None => image.name(),
        };
        emit.at(
            u.resource,
            &u.path(),
            format!(
                "container {} pins {what} to {}, elsewhere in the repository it is pinned to {}",
                u.container,
                short(digest),
                others.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

/// `sha256:0123456789ab…`: enough to tell digests apart in a message.
fn short(digest: &str) -> String {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("", digest));
    format!("{algorithm}:{}…", hex.get(..12).unwrap_or(hex))
}
