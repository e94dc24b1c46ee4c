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
