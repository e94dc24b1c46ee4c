//! Kyverno's CEL libraries, offline: `resource.Get`/`List` and `image.GetMetadata` answer
//! from what a test's `context:` file gives (the cluster and the registry are not here),
//! `parseServiceAccount`, `time.now`; `http` and `globalContext` say they need the cluster.

use super::cel::{self, ExecutionError, FunctionContext};
use super::Value;
use std::cell::RefCell;
use std::sync::Arc;

/// What a test's context file gives the libraries in place of the cluster and the registry.
#[derive(Debug, Default)]
pub struct Lookups {
    /// Objects `resource.Get` and `resource.List` find.
    pub resources: Vec<serde_json::Value>,
    /// Image metadata by the exact reference written (`spec.images[].image`).
    pub images: Vec<(String, serde_json::Value)>,
}

thread_local! {
    static LOOKUPS: RefCell<Option<Arc<Lookups>>> = const { RefCell::new(None) };
}

/// Runs `f` with `lookups` answering this thread's library calls.
pub fn with_lookups<R>(lookups: Option<Arc<Lookups>>, f: impl FnOnce() -> R) -> R {
    let before = LOOKUPS.with(|l| l.replace(lookups));
    let out = f();
    LOOKUPS.with(|l| *l.borrow_mut() = before);
    out
}

fn lookups(function: &str) -> Result<Arc<Lookups>, ExecutionError> {
    LOOKUPS.with(|l| l.borrow().clone()).ok_or_else(|| {
        ExecutionError::function_error(
            function,
            "needs the cluster (or a registry): offline it is answered only by a kyverno-test.yaml `context:` file",
        )
    })
}

/// Calls that need the cluster or a registry, by the text that starts them.
pub const EXTERNAL_CALLS: &[&str] = &[
    "resource.Get(",
    "resource.List(",
    "image.GetMetadata(",
    "http.Get(",
    "http.Post(",
    "http.Client(",
    "globalContext.Get(",
];

/// The first call in `source` that needs the cluster or a registry.
pub fn external_call(source: &str) -> Option<&'static str> {
    EXTERNAL_CALLS
        .iter()
        .find(|c| source.contains(*c))
        .map(|c| c.trim_end_matches('('))
}

/// Whether an object is of `apiVersion` and the resource (plural) `plural`.
fn is_of(o: &serde_json::Value, api_version: &str, plural: &str) -> bool {
    let kind = o.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    o.get("apiVersion").and_then(|a| a.as_str()) == Some(api_version)
        && crate::manifest::kind_of_plural(plural).map_or_else(
            || crate::kyverno::engine::plural_of(kind) == plural,
            |k| k == kind,
        )
}

fn namespace_of(o: &serde_json::Value) -> &str {
    o.pointer("/metadata/namespace")
        .and_then(|n| n.as_str())
        .unwrap_or("")
}

fn resource_get(
    api_version: Arc<String>,
    plural: Arc<String>,
    namespace: Arc<String>,
    name: Arc<String>,
) -> Result<Value, ExecutionError> {
    let l = lookups("resource.Get")?;
    l.resources
        .iter()
        .find(|o| {
            is_of(o, &api_version, &plural)
                && namespace_of(o) == namespace.as_str()
                && o.pointer("/metadata/name").and_then(|n| n.as_str()) == Some(name.as_str())
        })
        .map(super::convert::to_cel)
        .ok_or_else(|| {
            ExecutionError::function_error("resource.Get", format!("{plural} \"{name}\" not found"))
        })
}

fn resource_list(
    api_version: Arc<String>,
    plural: Arc<String>,
    namespace: Arc<String>,
) -> Result<Value, ExecutionError> {
    let l = lookups("resource.List")?;
    let of_type: Vec<&serde_json::Value> = l
        .resources
        .iter()
        .filter(|o| is_of(o, &api_version, &plural))
        .collect();
    if of_type.is_empty() {
        // Kyverno's test provider answers a resource it has none of as a bad request.
        return Err(ExecutionError::function_error(
            "resource.List",
            format!("{plural} resource not found"),
        ));
    }
    let items: Vec<serde_json::Value> = of_type
        .into_iter()
        .filter(|o| namespace_of(o) == namespace.as_str())
        .cloned()
        .collect();
    Ok(super::convert::to_cel(
        &serde_json::json!({ "items": items }),
    ))
}

fn image_metadata(image: Arc<String>) -> Result<Value, ExecutionError> {
    let l = lookups("image.GetMetadata")?;
    l.images
        .iter()
        .find(|(i, _)| i == image.as_str())
        .map(|(_, data)| super::convert::to_cel(data))
        .ok_or_else(|| {
            ExecutionError::function_error(
                "image.GetMetadata",
                format!("image data for {image} not found in the context"),
            )
        })
}

/// `system:serviceaccount:NS:NAME` as `{Namespace, Name}`; empty for other users.
fn parse_service_account(user: Arc<String>) -> Result<Value, ExecutionError> {
    let (ns, name) = user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .unwrap_or(("", ""));
    Ok(super::convert::to_cel(
        &serde_json::json!({ "Namespace": ns, "Name": name }),
    ))
}

fn needs_cluster(ftx: &FunctionContext) -> Result<Value, ExecutionError> {
    Err(ftx.error("needs the cluster; it cannot be answered offline"))
}

/// Registers the libraries.
pub(super) fn register(ctx: &mut cel::Context<'static>) {
    ctx.add_function("dyn", |v: Value| -> Result<Value, ExecutionError> { Ok(v) });
    ctx.add_function("resource.Get", resource_get);
    ctx.add_function("resource.List", resource_list);
    ctx.add_function("image.GetMetadata", image_metadata);
    ctx.add_function("parseServiceAccount", parse_service_account);
    ctx.add_function("time.now", |_: &FunctionContext| {
        let now = tollgate_yaml::time::Timestamp::now_utc().rfc3339();
        cel::functions::time::timestamp(Arc::new(now))
    });
    for f in ["http.Get", "http.Post", "http.Client", "globalContext.Get"] {
        ctx.add_function(f, needs_cluster);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{compile, eval, Decls, Scope};
    use super::*;

    fn run(src: &str, lookups: Option<Arc<Lookups>>) -> Result<Value, String> {
        let p = compile(
            src,
            &Decls {
                names: &["object"],
                variables: None,
            },
        )?;
        let s = Scope::new();
        with_lookups(lookups, || eval(&p, &s)).map_err(|e| e.0)
    }

    #[test]
    fn resources_come_from_the_context_file() {
        let l = Arc::new(Lookups {
            resources: vec![serde_json::json!({
                "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web", "namespace": "default"}
            })],
            images: vec![(
                "busybox:1.28".into(),
                serde_json::json!({"config": {"created": "2020-01-01T00:00:00Z"}}),
            )],
        });
        assert_eq!(
            run(
                "resource.List('autoscaling/v1', 'horizontalpodautoscalers', 'default').items.size()",
                Some(l.clone())
            ),
            Ok(Value::Int(1))
        );
        // Another namespace has none.
        assert_eq!(
            run(
                "resource.List('autoscaling/v1', 'horizontalpodautoscalers', 'prod').items.size()",
                Some(l.clone())
            ),
            Ok(Value::Int(0))
        );
        assert_eq!(
            run(
                "resource.Get('autoscaling/v1', 'horizontalpodautoscalers', 'default', 'web').metadata.name",
                Some(l.clone())
            ),
            Ok(Value::String(Arc::new("web".into())))
        );
        assert!(run(
            "resource.Get('v1', 'configmaps', 'default', 'x') == null",
            Some(l.clone())
        )
        .unwrap_err()
        .contains("not found"));
        assert_eq!(
            run("image.GetMetadata('busybox:1.28').config.created", Some(l)),
            Ok(Value::String(Arc::new("2020-01-01T00:00:00Z".into())))
        );
        // Without a context file the call says it needs the cluster.
        let e = run("resource.List('v1', 'pods', 'default')", None).unwrap_err();
        assert!(e.contains("needs the cluster"), "{e}");
    }

    #[test]
    fn service_accounts_parse() {
        assert_eq!(
            run(
                "parseServiceAccount('system:serviceaccount:team-a:builder').Namespace",
                None
            ),
            Ok(Value::String(Arc::new("team-a".into())))
        );
        assert_eq!(
            run("parseServiceAccount('alice').Name", None),
            Ok(Value::String(Arc::new(String::new())))
        );
        assert_eq!(
            run("time.now() > timestamp('2020-01-01T00:00:00Z')", None),
            Ok(Value::Bool(true))
        );
        assert!(run("http.Get('https://x')", None)
            .unwrap_err()
            .contains("needs the cluster"));
    }
}
