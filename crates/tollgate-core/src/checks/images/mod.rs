//! The image rules: every container image of every pod template, parsed once into an
//! [`ImageRef`](crate::image::ImageRef), judged for tags that move, missing digests,
//! registries outside the allowed ones, pull policies that keep stale images, and one image
//! pinned to different digests across the repository.

pub mod digest_drift;
pub mod invalid_reference;
pub mod mutable_tag;
pub mod not_pinned;
pub mod pull_policy;
pub mod registry;
pub mod signature;
pub mod unchecked_signature;

use super::pods::Pod;
use crate::image::{ImageRef, RefError};
use crate::manifest::Resource;
use serde_json::Value;

/// One container's image.
#[derive(Debug)]
pub struct Use<'a> {
    /// The object the container is in.
    pub resource: &'a Resource,
    /// The container's name.
    pub container: &'a str,
    /// Field path of the container (`spec.template.spec.containers[0]`).
    pub container_path: String,
    /// The reference as written (empty when `image` is not a string).
    pub written: &'a str,
    /// The reference, parsed.
    pub parsed: Result<ImageRef, RefError>,
    /// Its `imagePullPolicy`, if set.
    pub pull_policy: Option<&'a str>,
}

impl Use<'_> {
    /// Field path of its `image`, where the findings go.
    pub fn path(&self) -> String {
        format!("{}.image", self.container_path)
    }
}

/// The image of every container of `pods` that has one.
pub(crate) fn uses<'a>(pods: &[Pod<'a>]) -> Vec<Use<'a>> {
    let mut out = Vec::new();
    for pod in pods {
        for c in pod.containers() {
            let Some(image) = c.value.get("image").filter(|v| !v.is_null()) else {
                // The API server rejects a container without an image; nothing to judge.
                continue;
            };
            let (written, parsed) = match image.as_str() {
                Some(s) => (s, ImageRef::parse(s)),
                None => ("", Err(RefError("`image` must be a string".to_owned()))),
            };
            out.push(Use {
                resource: pod.resource,
                container: c.name,
                container_path: c.path.to_owned(),
                written,
                parsed,
                pull_policy: c.value.get("imagePullPolicy").and_then(Value::as_str),
            });
        }
    }
    out
}

/// One image judged against one `images.signatures` rule.
#[derive(Debug)]
pub struct Signed {
    /// Index into [`super::Model::images`].
    pub image: usize,
    /// Index into `images.signatures`.
    pub rule: usize,
    /// The verifier's answer.
    pub outcome: crate::signature::Outcome,
}

/// Every image covered by a signature rule, verified; each distinct (reference, rule) once,
/// the distinct ones in parallel (each is a few registry round trips when the cache is cold).
pub(crate) fn signatures(model: &super::Model<'_>) -> Vec<Signed> {
    use rayon::prelude::*;
    let settings = model.settings();
    let (rules, Some(verifier)) = (&settings.signatures, settings.verifier.as_deref()) else {
        return Vec::new();
    };
    let mut wanted: Vec<(usize, usize)> = Vec::new();
    for (i, u) in model.images().iter().enumerate() {
        let Ok(image) = &u.parsed else { continue };
        for (r, rule) in rules.iter().enumerate() {
            if rule.applies_to(u.written, image) {
                wanted.push((i, r));
            }
        }
    }
    let mut distinct: Vec<(&ImageRef, usize)> = wanted
        .iter()
        .filter_map(|&(i, r)| Some((model.images().get(i)?.parsed.as_ref().ok()?, r)))
        .collect();
    distinct.sort();
    distinct.dedup();
    let answers: std::collections::HashMap<(&ImageRef, usize), crate::signature::Outcome> =
        distinct
            .into_par_iter()
            .filter_map(|(image, r)| {
                let rule = rules.get(r)?;
                let req = crate::signature::Requirement {
                    keys: &rule.keys,
                    annotations: &rule.annotations,
                    repository: rule.repository.as_deref(),
                };
                Some(((image, r), verifier.verify(image, req)))
            })
            .collect();
    wanted
        .into_iter()
        .filter_map(|(i, r)| {
            let image = model.images().get(i)?.parsed.as_ref().ok()?;
            Some(Signed {
                image: i,
                rule: r,
                outcome: answers.get(&(image, r))?.clone(),
            })
        })
        .collect()
}
