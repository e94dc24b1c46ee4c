//! Every pod template of a set, found once: a Pod's spec or a controller's template, with the
//! field path that leads to it and each container (init and ephemeral ones too). The image
//! rules and the Pod Security Standards judge containers; they must agree on which there are.

use crate::manifest::Resource;
use serde_json::Value;

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerList {
    /// `containers`.
    Containers,
    /// `initContainers`.
    Init,
    /// `ephemeralContainers` (debug containers; in manifests only in a Pod's status dumps,
    /// but the API accepts them and the standard covers them).
    Ephemeral,
}

impl ContainerList {
    /// The field name.
    pub fn key(self) -> &'static str {
        match self {
            ContainerList::Containers => "containers",
            ContainerList::Init => "initContainers",
            ContainerList::Ephemeral => "ephemeralContainers",
        }
    }
}

/// One container of a pod template (`'p` the template's paths, `'a` the object).
#[derive(Debug, Clone, Copy)]
pub struct Container<'p, 'a> {
    /// Its field path (`spec.template.spec.containers[0]`).
    pub path: &'p str,
    /// The list it is in.
    pub list: ContainerList,
    /// Its `name` (empty when unset).
    pub name: &'a str,
    /// The container object.
    pub value: &'a Value,
}

/// A pod template: a Pod, or the template a controller stamps pods from.
#[derive(Debug)]
pub struct Pod<'a> {
    /// The object.
    pub resource: &'a Resource,
    /// Field path of the pod's metadata (`spec.template.metadata`; `metadata` for a Pod).
    pub metadata_path: String,
    /// Field path of the pod spec (`spec.template.spec`; `spec` for a Pod).
    pub spec_path: String,
    /// The pod's metadata, if any.
    pub metadata: Option<&'a Value>,
    /// The pod spec (`Null` when the template has none).
    pub spec: &'a Value,
    /// Container paths, in list order.
    paths: Vec<(ContainerList, usize, String)>,
}

static NULL: Value = Value::Null;

impl<'a> Pod<'a> {
    /// The pod template of `r`, if its kind has one.
    pub fn of(r: &'a Resource) -> Option<Pod<'a>> {
        let template = template_of(r)?;
        let pod = if template.is_empty() {
            Some(&r.object)
        } else {
            template.split('.').try_fold(&r.object, |v, k| v.get(k))
        };
        let join = |key: &str| {
            if template.is_empty() {
                key.to_owned()
            } else {
                format!("{template}.{key}")
            }
        };
        let spec = pod.and_then(|p| p.get("spec")).unwrap_or(&NULL);
        let spec_path = join("spec");
        let mut paths = Vec::new();
        for list in [
            ContainerList::Init,
            ContainerList::Containers,
            ContainerList::Ephemeral,
        ] {
            let n = spec
                .get(list.key())
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for i in 0..n {
                paths.push((list, i, format!("{spec_path}.{}[{i}]", list.key())));
            }
        }
        Some(Pod {
            resource: r,
            metadata_path: join("metadata"),
            spec_path,
            metadata: pod.and_then(|p| p.get("metadata")),
            spec,
            paths,
        })
    }

    /// Every container, init containers first (the order the kubelet starts them).
    pub fn containers(&self) -> impl Iterator<Item = Container<'_, 'a>> {
        let spec: &'a Value = self.spec;
        self.paths.iter().filter_map(move |(list, i, path)| {
            let value = spec.get(list.key())?.get(*i)?;
            Some(Container {
                path,
                list: *list,
                name: value.get("name").and_then(Value::as_str).unwrap_or(""),
                value,
            })
        })
    }

    /// `field` of the pod spec, path and value.
    pub fn spec_field(&self, field: &str) -> (String, Option<&'a Value>) {
        (format!("{}.{field}", self.spec_path), self.spec.get(field))
    }
}

/// Where the pod template of a kind is: `""` for a Pod itself.
pub(crate) fn template_of(r: &Resource) -> Option<&'static str> {
    let group = r.api_version.split_once('/').map_or("", |(g, _)| g);
    match (group, r.kind.as_str()) {
        ("", "Pod") => Some(""),
        ("", "ReplicationController") => Some("spec.template"),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => {
            Some("spec.template")
        }
        ("batch", "Job") => Some("spec.template"),
        ("batch", "CronJob") => Some("spec.jobTemplate.spec.template"),
        _ => None,
    }
}
