//! Container image references split the way Kyverno does: the `images` variable of a rule
//! context and the `image_normalize` function. References come from resources: no indexing or
//! unchecked arithmetic.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use serde_json::{Map, Value};

/// The parts of an image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `docker.io`, `ghcr.io`, ...
    pub registry: String,
    /// Repository path under the registry.
    pub path: String,
    /// Last segment of the path.
    pub name: String,
    /// Tag (`latest` when neither tag nor digest is given).
    pub tag: String,
    /// `sha256:...`, if pinned.
    pub digest: String,
}

impl ImageInfo {
    /// The reference as Kyverno prints it: digest wins over tag.
    pub fn reference(&self) -> String {
        let image = format!("{}/{}", self.registry, self.path);
        if self.digest.is_empty() {
            format!("{image}:{}", self.tag)
        } else {
            format!("{image}@{}", self.digest)
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("registry".into(), self.registry.clone().into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("path".into(), self.path.clone().into());
        m.insert("tag".into(), self.tag.clone().into());
        m.insert("digest".into(), self.digest.clone().into());
        m.insert("reference".into(), self.reference().into());
        m.insert(
            "referenceWithTag".into(),
            format!("{}/{}:{}", self.registry, self.path, self.tag).into(),
        );
        Value::Object(m)
    }
}

/// Splits a reference; `docker.io` is added when the first segment is not a registry.
pub fn parse(image: &str) -> Result<ImageInfo, String> {
    let bad = || format!("invalid image reference '{image}'");
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(bad());
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => {
            if !d.contains(':') {
                return Err(bad());
            }
            (r, d.to_owned())
        }
        None => (image, String::new()),
    };
    // A tag's colon comes after the last slash (a registry port's comes before it).
    let last_slash = rest.rfind('/').unwrap_or(0);
    let (repo, tag) = match rest
        .rfind(':')
        .filter(|&c| c > last_slash || !rest.contains('/'))
    {
        Some(c) => (
            rest.get(..c).unwrap_or(rest),
            rest.get(c.saturating_add(1)..).unwrap_or("").to_owned(),
        ),
        None => (rest, String::new()),
    };
    let (registry, path) = match repo.split_once('/') {
        Some((first, p)) if crate::image::is_registry_component(first) => {
            (first.to_owned(), p.to_owned())
        }
        _ => ("docker.io".to_owned(), repo.to_owned()),
    };
    if path.is_empty() || path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(bad());
    }
    let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
    let tag = if tag.is_empty() && digest.is_empty() {
        "latest".to_owned()
    } else {
        tag
    };
    Ok(ImageInfo {
        registry,
        path,
        name,
        tag,
        digest,
    })
}

/// `image_normalize`: the fully qualified form (`nginx` -> `docker.io/library/nginx:latest`).
pub fn normalize(image: &str) -> Result<String, String> {
    let mut info = parse(image)?;
    if info.registry == "docker.io" && !info.path.contains('/') {
        info.path = format!("library/{}", info.path);
    }
    let mut out = format!("{}/{}", info.registry, info.path);
    if !info.tag.is_empty() {
        out.push(':');
        out.push_str(&info.tag);
    }
    if !info.digest.is_empty() {
        out.push('@');
        out.push_str(&info.digest);
    }
    Ok(out)
}

/// The pod spec of the kinds Kyverno reads images from, with its field path.
pub(crate) fn pod_spec(object: &Value) -> Option<(&Value, &'static str)> {
    let (pointer, path) = match object.get("kind")?.as_str()? {
        "Pod" => ("/spec", "spec"),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/spec",
            "spec.jobTemplate.spec.template.spec",
        ),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicaSet"
        | "ReplicationController" => ("/spec/template/spec", "spec.template.spec"),
        _ => return None,
    };
    Some((object.pointer(pointer)?, path))
}

/// The `images` variable of a workload: `containers`, `initContainers`, `ephemeralContainers`,
/// each a map from container name to its image parts. `None` for kinds without a pod spec.
pub fn images_of(object: &Value) -> Option<Value> {
    let (spec, _) = pod_spec(object)?;
    let mut out = Map::new();
    for field in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(Value::Array(cs)) = spec.get(field) else {
            continue;
        };
        let mut group = Map::new();
        for c in cs {
            let (Some(name), Some(image)) = (
                c.get("name").and_then(Value::as_str),
                c.get("image").and_then(Value::as_str),
            ) else {
                continue;
            };
            if let Ok(info) = parse(image) {
                group.insert(name.to_owned(), info.to_json());
            }
        }
        if !group.is_empty() {
            out.insert(field.to_owned(), Value::Object(group));
        }
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let i = parse("nginx").unwrap();
        assert_eq!(
            (i.registry.as_str(), i.path.as_str(), i.tag.as_str()),
            ("docker.io", "nginx", "latest")
        );
        let i = parse("ghcr.io/org/app:1.2@sha256:abc").unwrap();
        assert_eq!(i.name, "app");
        assert_eq!(i.tag, "1.2");
        assert_eq!(i.digest, "sha256:abc");
        assert_eq!(i.reference(), "ghcr.io/org/app@sha256:abc");
        let i = parse("localhost:5000/app").unwrap();
        assert_eq!(i.registry, "localhost:5000");
        assert_eq!(
            normalize("nginx").unwrap(),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(
            normalize("bitnami/redis:7").unwrap(),
            "docker.io/bitnami/redis:7"
        );
        assert!(parse("").is_err());
    }
}
