//! `rbac who-can`, `rbac explain` and `netpol reach` on hand-worked cases: each answer below
//! was worked out from the fixture and the Kubernetes rules it depends on, written beside it.

use std::path::{Path, PathBuf};
use tollgate_core::checks::netpol::{self, Network, PortQuery};
use tollgate_core::checks::rbac::{self, Graph, Query, SubjectRef};
use tollgate_core::manifest::{load_paths, Resource};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn resources(fixture: &str) -> Vec<Resource> {
    let inv = load_paths(&[repo().join(fixture)], &[]);
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    inv.resources
}

/// `Kind/[ns/]name <- binding` of each subject and way.
fn who(
    g: &Graph<'_>,
    verb: &str,
    resource: &str,
    ns: Option<&str>,
    name: Option<&str>,
) -> Vec<String> {
    let q = Query::parse(verb, resource, ns, name).unwrap();
    rbac::who_can(g, &q)
        .subjects
        .iter()
        .flat_map(|s| {
            let subject = SubjectRef {
                kind: s.kind,
                namespace: s.namespace.clone(),
                name: s.name.clone(),
            }
            .display();
            s.via
                .iter()
                .map(move |v| format!("{subject} <- {}", v.binding))
        })
        .collect()
}

#[test]
fn who_can_follows_binding_scope_aggregation_and_resource_names() {
    let res = resources("fixtures/rbac/cluster.yaml");
    let g = Graph::build(&res);
    assert!(g.errors.is_empty(), "{:?}", g.errors);

    // get secrets in shop:
    // - Group devs: RoleBinding shop/devs to the built-in `edit`, which reads secrets;
    // - Group sre: ClusterRoleBinding to `ops`, which has no rules of its own but aggregates
    //   `secrets-read` (label example.com/aggregate-to-ops) -> get secrets everywhere;
    // - ServiceAccount shop/backup: RoleBinding in shop to the ClusterRole secrets-read
    //   (a RoleBinding to a ClusterRole grants it in the binding's namespace).
    // Not: Group system:serviceaccounts:shop (`view` does not include secrets), alice.
    assert_eq!(
        who(&g, "get", "secrets", Some("shop"), None),
        [
            "Group/devs <- RoleBinding/shop/devs",
            "Group/sre <- ClusterRoleBinding/ops",
            "ServiceAccount/shop/backup <- RoleBinding/shop/backup-reads-secrets",
        ]
    );
    // In payments only the ClusterRoleBinding reaches: the RoleBindings are in shop.
    assert_eq!(
        who(&g, "get", "secret", Some("payments"), None),
        ["Group/sre <- ClusterRoleBinding/ops"]
    );
    // watch: secrets-read (and so ops) has get and list only; edit has get, list and watch.
    assert_eq!(
        who(&g, "watch", "secrets", Some("shop"), None),
        ["Group/devs <- RoleBinding/shop/devs"]
    );

    // create pods/exec: alice in payments (pod-exec); devs in shop (edit includes
    // pods/exec). `pods` alone would not match the subresource.
    assert_eq!(
        who(&g, "create", "pods/exec", Some("payments"), None),
        ["User/alice <- RoleBinding/payments/alice-exec"]
    );
    assert_eq!(
        who(&g, "create", "pods/exec", None, None),
        [
            "Group/devs <- RoleBinding/shop/devs",
            "User/alice <- RoleBinding/payments/alice-exec",
        ]
    );

    // get configmaps in shop: config-reader is narrowed to resourceNames [app-config], so it
    // grants `get app-config` but not a get without a name. view (to the SAs of shop) and
    // edit read every configmap.
    assert_eq!(
        who(&g, "get", "configmaps", Some("shop"), Some("app-config")),
        [
            "Group/devs <- RoleBinding/shop/devs",
            "Group/system:serviceaccounts:shop <- ClusterRoleBinding/all-serviceaccounts-view",
            "ServiceAccount/shop/web <- RoleBinding/shop/web-config",
        ]
    );
    assert_eq!(
        who(&g, "get", "configmaps", Some("shop"), None),
        [
            "Group/devs <- RoleBinding/shop/devs",
            "Group/system:serviceaccounts:shop <- ClusterRoleBinding/all-serviceaccounts-view",
        ]
    );

    // Nodes are cluster-scoped: RoleBindings cannot grant them, and no ClusterRoleBinding's
    // role lists nodes (view has namespaces, not nodes).
    assert!(who(&g, "list", "nodes", None, None).is_empty());
    // deployments resolves to the apps group; edit may create them in shop.
    assert_eq!(
        who(&g, "create", "deployments", Some("shop"), None),
        ["Group/devs <- RoleBinding/shop/devs"]
    );
    // A group the roles do not list (a CRD group) matches nothing here.
    assert!(who(&g, "create", "deployments.example.com", Some("shop"), None).is_empty());
}

#[test]
fn explain_groups_permissions_per_namespace_with_implicit_groups() {
    let res = resources("fixtures/rbac/cluster.yaml");
    let g = Graph::build(&res);
    let accounts = rbac::service_accounts(&res);

    // ServiceAccount shop/backup: by name, secrets-read in shop; as a member of
    // system:serviceaccounts:shop (the API server puts every SA of shop in it), `view`
    // cluster-wide.
    let who = SubjectRef::parse("ServiceAccount/shop/backup").unwrap();
    let e = rbac::explain(&g, &who, &accounts).unwrap();
    /// `(namespace, [(binding, through group)])` of each scope.
    type Scopes<'e> = Vec<(Option<&'e str>, Vec<(String, Option<&'e str>)>)>;
    let scopes: Scopes<'_> = e
        .scopes
        .iter()
        .map(|s| {
            (
                s.namespace.as_deref(),
                s.grants
                    .iter()
                    .map(|g| (g.binding.clone(), g.group.as_deref()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(scopes.len(), 2, "{scopes:?}");
    assert_eq!(scopes[0].0, None);
    assert!(scopes[0]
        .1
        .iter()
        .all(|(b, g)| b == "ClusterRoleBinding/all-serviceaccounts-view"
            && *g == Some("system:serviceaccounts:shop")));
    assert_eq!(scopes[1].0, Some("shop"));
    assert_eq!(
        scopes[1].1,
        [("RoleBinding/shop/backup-reads-secrets".to_owned(), None)]
    );
    let secrets = &e.scopes[1].grants[0];
    assert_eq!(secrets.verbs, ["get", "list"]);
    assert_eq!(secrets.resources, ["secrets"]);

    // Group sre: through the aggregating ClusterRole, naming the role the rule comes from.
    let e = rbac::explain(&g, &SubjectRef::parse("Group/sre").unwrap(), &accounts).unwrap();
    assert_eq!(e.scopes.len(), 1);
    assert_eq!(
        e.scopes[0].grants[0].role,
        "ClusterRole/ops (aggregated from ClusterRole/secrets-read)"
    );

    // Unknown subjects are an error with the close ones.
    let err = rbac::explain(
        &g,
        &SubjectRef::parse("ServiceAccount/shop/backpu").unwrap(),
        &accounts,
    )
    .unwrap_err();
    assert!(matches!(err, tollgate_core::Error::NotFound(_)));
    let err = err.to_string();
    assert!(
        err.contains("did you mean ServiceAccount/shop/backup"),
        "{err}"
    );
    assert!(SubjectRef::parse("ServiceAccount/backup").is_err());
}

fn reach(net: &Network<'_>, from: &str, to: &str, port: Option<&str>) -> netpol::Reach {
    let port = port.map(|p| PortQuery::parse(p).unwrap());
    netpol::reach(
        net,
        net.endpoint(from).unwrap(),
        net.endpoint(to).unwrap(),
        port.as_ref(),
    )
    .unwrap()
}

#[test]
fn reach_follows_isolation_per_direction_and_the_union_of_rules() {
    let res = resources("fixtures/netpol/shop.yaml");
    let net = Network::build(&res);
    assert!(net.errors.is_empty(), "{:?}", net.errors);

    // web -> api:9000. Egress of web: isolated by default-deny and web-egress; web-egress
    // allows tier=backend (api's pods) on 9000/TCP. Ingress of api: isolated by default-deny,
    // api-ingress and api-egress: a policy without policyTypes always includes Ingress, so
    // api-egress (written for egress) isolates api's ingress too and allows nothing in. The
    // union still holds api-ingress, which allows app=web on 9000-9100. Allowed.
    let r = reach(&net, "shop/web", "shop/api", Some("9000"));
    assert!(r.allowed);
    assert_eq!(
        r.egress.isolated_by,
        ["shop/default-deny", "shop/web-egress"]
    );
    assert_eq!(r.egress.allowed_by, ["shop/web-egress"]);
    assert_eq!(
        r.ingress.isolated_by,
        ["shop/api-egress", "shop/api-ingress", "shop/default-deny"]
    );
    assert_eq!(r.ingress.allowed_by, ["shop/api-ingress"]);

    // web -> api:9100 is inside endPort on ingress, but web-egress allows 9000 only.
    let r = reach(&net, "shop/web", "shop/api", Some("9100"));
    assert!(!r.allowed);
    assert!(r.egress.allowed_by.is_empty());
    assert_eq!(r.ingress.allowed_by, ["shop/api-ingress"]);
    // 9101 is past endPort: denied on both sides.
    let r = reach(&net, "shop/web", "shop/api", Some("9101"));
    assert!(r.ingress.allowed_by.is_empty() && r.egress.allowed_by.is_empty());

    // api -> db by the name `postgres`: resolved on db's container (5432/TCP). api-egress
    // (egress rules and no policyTypes: Egress) allows app=db on every port; db-ingress
    // allows app=api on its named port postgres = 5432.
    let r = reach(&net, "shop/api", "shop/db", Some("postgres"));
    assert!(r.allowed);
    assert_eq!(r.port.as_deref(), Some("5432/TCP"));
    assert_eq!(r.ingress.allowed_by, ["shop/db-ingress"]);
    // ... but not over UDP: the rule's named port is TCP.
    let r = reach(&net, "shop/api", "shop/db", Some("5432/udp"));
    assert!(!r.allowed);

    // web -> db: neither web's egress (backend, kube-system) nor db's ingress (api) allows.
    let r = reach(&net, "shop/web", "shop/db", None);
    assert!(!r.allowed && r.egress.allowed_by.is_empty() && r.ingress.allowed_by.is_empty());

    // prometheus -> web on `metrics`: prometheus is in no policy (egress not isolated); the
    // first web-ingress rule wants namespace team=observability AND pod app=prometheus, port
    // metrics = 9090 on web.
    let r = reach(&net, "monitoring/prometheus", "shop/web", Some("9090"));
    assert!(r.allowed && !r.egress.isolated);
    assert_eq!(r.ingress.allowed_by, ["shop/web-ingress"]);
    // ... and not on 8080 from a pod: the 8080 rule is an ipBlock, which never matches pods.
    assert!(!reach(&net, "monitoring/prometheus", "shop/web", Some("8080")).allowed);
    // partner has no Namespace object: only kubernetes.io/metadata.name=partner, so the
    // team=observability selector does not match it.
    assert!(!reach(&net, "partner/client", "shop/web", Some("9090")).allowed);

    // Addresses: 203.0.113.7 is in 0.0.0.0/0 and not in the except 10.0.0.0/8.
    assert!(reach(&net, "203.0.113.7", "shop/web", Some("8080")).allowed);
    assert!(!reach(&net, "10.1.2.3", "shop/web", Some("8080")).allowed);
    // web's DNS rule names kube-system's pods, not an address: 10.96.0.10 is not allowed.
    assert!(!reach(&net, "shop/web", "10.96.0.10", Some("53/UDP")).allowed);

    // batch is isolated for egress by default-deny alone, which allows nothing; prometheus
    // is not isolated for ingress. The CronJob's pods are found by its job template.
    let r = reach(&net, "shop/batch", "monitoring/prometheus", None);
    assert!(!r.allowed && r.egress.isolated && !r.ingress.isolated);
    assert_eq!(r.egress.isolated_by, ["shop/default-deny"]);
}

#[test]
fn reach_names_unknown_endpoints_and_ports_with_close_matches() {
    let res = resources("fixtures/netpol/shop.yaml");
    let net = Network::build(&res);
    let e = net.endpoint("shop/wbe").unwrap_err().to_string();
    assert!(e.contains("did you mean") && e.contains("shop/web"), "{e}");
    let e = net.endpoint("shp/web").unwrap_err().to_string();
    assert!(e.contains("namespace shp") && e.contains("shop"), "{e}");
    assert!(net.endpoint("web").is_err());
    let e = netpol::reach(
        &net,
        net.endpoint("shop/web").unwrap(),
        net.endpoint("shop/api").unwrap(),
        Some(&PortQuery::parse("http").unwrap()),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no TCP container port named `http`"), "{e}");
    assert!(PortQuery::parse("0").is_err());
    assert!(PortQuery::parse("70000").is_err());
    assert!(PortQuery::parse("53/icmp").is_err());
}
