//! Admission as data: an `AdmissionReview` (`admission.k8s.io/v1`) in, a [`Verdict`] out, and
//! the response review back. Pure: no server, no TLS; the webhook in the binary and the
//! offline `webhook review` both call [`crate::policyset::PolicySet::review`] with this.

use crate::engine::EvalError;
use crate::finding::{Finding, Severity};
use crate::manifest::Resource;
use crate::policyset::Evaluation;
use serde_json::{json, Map, Value};

/// The API server caps each warning; longer ones are truncated there, so they are cut here
/// with an ellipsis instead.
pub const MAX_WARNING_CHARS: usize = 256;

/// Room for `status.message`: kubectl prints it in full, so it lists the failing rules only.
const MAX_MESSAGE_CHARS: usize = 1024;

/// What the API server asks about one object. Its `Debug` leaves out the objects and the
/// user's extra fields: they may hold secret values.
#[derive(Clone, PartialEq)]
pub struct AdmissionRequest {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request.kind.kind` (`Pod`).
    pub kind: String,
    /// `request.namespace`, when namespaced.
    pub namespace: Option<String>,
    /// `request.name` (empty on CREATE with `generateName`).
    pub name: Option<String>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: String,
    /// `request.userInfo` as sent.
    pub user_info: Value,
    /// `request.object` (absent on DELETE).
    pub object: Option<Value>,
    /// `request.oldObject` (UPDATE, DELETE).
    pub old_object: Option<Value>,
    /// `request.dryRun`: evaluated the same way.
    pub dry_run: bool,
    /// `request.resource` (group, version, plural), for subresource requests.
    pub resource: [String; 3],
    /// `request.subResource` (`exec`, `scale`, `status`); empty for the resource itself.
    pub sub_resource: String,
}

impl std::fmt::Debug for AdmissionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmissionRequest")
            .field("uid", &self.uid)
            .field("kind", &self.kind)
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("operation", &self.operation)
            .field("sub_resource", &self.sub_resource)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl AdmissionRequest {
    /// Reads an `AdmissionReview` body. Anything that is not a v1 review with a request, a
    /// uid, a known operation and an object (or, for DELETE, an old object) is an error that
    /// says what is missing.
    pub fn from_review(review: &Value) -> Result<AdmissionRequest, crate::Error> {
        Self::read(review).map_err(crate::Error::Review)
    }

    fn read(review: &Value) -> Result<AdmissionRequest, String> {
        let api = review.get("apiVersion").and_then(Value::as_str);
        match api {
            Some("admission.k8s.io/v1") => {}
            Some(other) => {
                return Err(format!(
                    "apiVersion must be admission.k8s.io/v1, not `{other}`"
                ))
            }
            None => return Err("apiVersion is missing (admission.k8s.io/v1)".into()),
        }
        if review.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
            return Err("kind must be AdmissionReview".into());
        }
        let req = review
            .get("request")
            .and_then(Value::as_object)
            .ok_or("the review has no request")?;
        let text = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_owned);
        let uid = text("uid")
            .filter(|u| !u.is_empty())
            .ok_or("request.uid is missing")?;
        let operation = text("operation").ok_or("request.operation is missing")?;
        if !matches!(
            operation.as_str(),
            "CREATE" | "UPDATE" | "DELETE" | "CONNECT"
        ) {
            return Err(format!(
                "request.operation `{operation}` is not CREATE, UPDATE, DELETE or CONNECT"
            ));
        }
        let present = |k: &str| req.get(k).filter(|v| !v.is_null()).cloned();
        let object = present("object");
        let old_object = present("oldObject");
        match (operation.as_str(), &object, &old_object) {
            ("DELETE", _, None) => return Err("a DELETE request needs request.oldObject".into()),
            ("DELETE", _, Some(_)) | (_, Some(_), _) => {}
            _ => return Err("request.object is missing".into()),
        }
        for (k, v) in [("object", &object), ("oldObject", &old_object)] {
            if v.as_ref().is_some_and(|v| !v.is_object()) {
                return Err(format!("request.{k} must be an object"));
            }
        }
        Ok(AdmissionRequest {
            uid,
            kind: req
                .get("kind")
                .and_then(|k| k.get("kind"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            namespace: text("namespace").filter(|n| !n.is_empty()),
            name: text("name").filter(|n| !n.is_empty()),
            operation,
            user_info: req.get("userInfo").cloned().unwrap_or(Value::Null),
            object,
            old_object,
            dry_run: req.get("dryRun").and_then(Value::as_bool).unwrap_or(false),
            resource: ["group", "version", "resource"].map(|k| {
                req.get("resource")
                    .and_then(|r| r.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            }),
            sub_resource: text("subResource").unwrap_or_default(),
        })
    }

    /// For a subresource request (`pods/exec`), the parent's group, version and kind and the
    /// subresource, as Kyverno matches it (`Pod/exec`). The parent kind comes from the
    /// resource's plural for the built-in kinds Kyverno policies name; other plurals are not
    /// known without the API server's discovery, and match as the request's own kind.
    pub(crate) fn subresource(&self) -> Option<[&str; 4]> {
        if self.sub_resource.is_empty() {
            return None;
        }
        let [group, version, plural] = &self.resource;
        let kind = crate::manifest::kind_of_plural(plural)?;
        Some([group, version, kind, &self.sub_resource])
    }

    /// The object under review as a resource: the new object, or the deleted one on DELETE,
    /// in the request's namespace when the object does not say (the API server puts it there).
    pub(crate) fn resource(&self) -> Resource {
        let mut object = self
            .object
            .clone()
            .or_else(|| self.old_object.clone())
            .unwrap_or_else(|| Value::Object(Map::new()));
        if let (Some(ns), Some(obj)) = (&self.namespace, object.as_object_mut()) {
            let meta = obj
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(meta) = meta.as_object_mut() {
                meta.entry("namespace")
                    .or_insert_with(|| Value::String(ns.clone()));
            }
        }
        Resource::from_admission(object, &format!("admission:{}", self.uid))
    }

    /// The request as Rego rules read it in `data.tollgate.review`: the AdmissionReview's
    /// `request` fields (`uid`, `kind`, `namespace`, `name`, `operation`, `userInfo`,
    /// `oldObject`, `dryRun`); the object itself is `input`.
    pub fn review_data(&self) -> Value {
        json!({
            "uid": self.uid,
            "kind": {"kind": self.kind},
            "namespace": self.namespace,
            "name": self.name,
            "operation": self.operation,
            "userInfo": self.user_info,
            "oldObject": self.old_object,
            "dryRun": self.dry_run,
        })
    }

    /// The user, as Kyverno's `request.userInfo` and subject matching read it.
    pub(crate) fn kyverno_user(&self) -> crate::kyverno::engine::UserInfo {
        let strings = |k: &str| -> Vec<String> {
            self.user_info
                .get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        crate::kyverno::engine::UserInfo {
            username: self
                .user_info
                .get("username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            groups: strings("groups"),
            roles: Vec::new(),
            cluster_roles: Vec::new(),
            raw: self.user_info.clone(),
        }
    }
}

/// The answer to one admission request.
#[derive(Debug)]
pub struct Verdict {
    /// The request's uid.
    pub uid: String,
    /// Whether the object is admitted.
    pub allowed: bool,
    /// Findings at or above the deny threshold: why it was denied.
    pub denied_by: Vec<Finding>,
    /// Findings below the threshold, at warning: sent as `warnings`.
    pub warnings: Vec<String>,
    /// Every finding that counts, and those waived.
    pub evaluation: Evaluation,
}

/// The key of an audit annotation in the webhook's response: the API server prefixes it
/// with the webhook's name (`tollgate.dev/KEY`), so it must be the name part of a qualified
/// name, 63 characters at most without `/`: `POLICY/KEY` becomes `POLICY.KEY`, or `KEY` alone
/// when that is too long.
fn annotation_key(key: &str) -> String {
    let dotted = key.replace('/', ".");
    if dotted.len() <= 63 {
        return dotted;
    }
    let own = key.rsplit('/').next().unwrap_or(key);
    own.chars().take(63).collect()
}

/// A text cut to `max` characters, with an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl Verdict {
    /// Decides from an evaluation: denied when a finding reaches `deny_at`, or when a rule
    /// could not be evaluated (a webhook fails closed; `failurePolicy` is for the server
    /// being unreachable, not for a policy that broke).
    pub(crate) fn from_evaluation(
        req: &AdmissionRequest,
        evaluation: Evaluation,
        deny_at: Severity,
    ) -> Verdict {
        let denied_by: Vec<Finding> = evaluation
            .findings
            .iter()
            .filter(|f| f.severity >= deny_at)
            .cloned()
            .collect();
        let warnings = evaluation
            .findings
            .iter()
            .filter(|f| f.severity < deny_at && f.severity >= Severity::Warning)
            .map(|f| cut(&format!("{}: {}", f.rule_id, f.message), MAX_WARNING_CHARS))
            .collect();
        Verdict {
            uid: req.uid.clone(),
            allowed: denied_by.is_empty() && evaluation.errors.is_empty(),
            denied_by,
            warnings,
            evaluation,
        }
    }

    /// An admitted request that was not evaluated (its namespace is exempt).
    pub(crate) fn exempt(req: &AdmissionRequest) -> Verdict {
        Verdict {
            uid: req.uid.clone(),
            allowed: true,
            denied_by: Vec::new(),
            warnings: Vec::new(),
            evaluation: Evaluation::default(),
        }
    }

    /// Errors of rules that could not be evaluated.
    pub fn errors(&self) -> &[EvalError] {
        &self.evaluation.errors
    }

    /// The `AdmissionReview` response the API server expects.
    pub fn to_review(&self) -> Value {
        let mut response = json!({ "uid": self.uid, "allowed": self.allowed });
        if !self.allowed {
            let (code, message) = if self.denied_by.is_empty() {
                let first = self.errors().first().map_or("", |e| e.message.as_str());
                (
                    500,
                    format!("tollgate could not evaluate the policies: {first}"),
                )
            } else {
                let reasons: Vec<String> = self
                    .denied_by
                    .iter()
                    .map(|f| format!("[{}] {}", f.rule_id, f.message))
                    .collect();
                (403, format!("denied by tollgate: {}", reasons.join("; ")))
            };
            response["status"] = json!({
                "code": code,
                "message": cut(&message, MAX_MESSAGE_CHARS),
            });
        }
        if !self.warnings.is_empty() {
            response["warnings"] = json!(self.warnings);
        }
        if !self.evaluation.audit_annotations.is_empty() {
            let map: Map<String, Value> = self
                .evaluation
                .audit_annotations
                .iter()
                .map(|(k, v)| (annotation_key(k), Value::String(v.clone())))
                .collect();
            response["auditAnnotations"] = Value::Object(map);
        }
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": response,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(request: Value) -> Value {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
    }

    #[test]
    fn debug_leaves_the_objects_out() {
        let req = AdmissionRequest::from_review(&review(json!({
            "uid": "u1", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": "Secret"},
            "object": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                       "stringData": {"token": "do-not-log-me"}}})))
        .unwrap();
        let shown = format!("{req:?}");
        assert!(shown.contains("u1") && shown.contains("Secret"), "{shown}");
        assert!(!shown.contains("do-not-log-me"), "{shown}");
    }

    #[test]
    fn malformed_reviews_say_what_is_wrong() {
        let cases = [
            (json!({"kind": "AdmissionReview"}), "apiVersion is missing"),
            (
                json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}),
                "not `admission.k8s.io/v1beta1`",
            ),
            (review(json!({"operation": "CREATE"})), "uid is missing"),
            (
                review(json!({"uid": "u", "operation": "PATCH", "object": {}})),
                "`PATCH` is not",
            ),
            (
                review(json!({"uid": "u", "operation": "CREATE"})),
                "object is missing",
            ),
            (
                review(json!({"uid": "u", "operation": "DELETE"})),
                "needs request.oldObject",
            ),
            (
                review(json!({"uid": "u", "operation": "CREATE", "object": "x"})),
                "must be an object",
            ),
        ];
        for (body, want) in cases {
            let e = AdmissionRequest::from_review(&body)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
    }

    #[test]
    fn the_namespace_of_the_request_is_the_objects_when_it_has_none() {
        let r = AdmissionRequest::from_review(&review(json!({
            "uid": "u1", "operation": "CREATE", "namespace": "shop",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
            "userInfo": {"username": "alice", "groups": ["dev"]},
            "dryRun": true
        })))
        .unwrap();
        assert!(r.dry_run);
        let res = r.resource();
        assert_eq!(res.namespace.as_deref(), Some("shop"));
        assert_eq!(res.object["metadata"]["namespace"], "shop");
        assert_eq!(r.kyverno_user().groups, ["dev"]);
    }

    #[test]
    fn warnings_and_messages_are_cut_to_what_the_api_server_keeps() {
        let long = "x".repeat(300);
        let c = cut(&long, MAX_WARNING_CHARS);
        assert_eq!(c.chars().count(), MAX_WARNING_CHARS);
        assert!(c.ends_with('…'));
        assert_eq!(cut("short", 10), "short");
    }
}
