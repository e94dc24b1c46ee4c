#!/usr/bin/env python3
"""Writes inventories for the RBAC and NetworkPolicy benchmarks into DIR.

  gen-inventory.py rbac N DIR      N/2 Roles and ClusterRoles, N/2 bindings, in 50 namespaces
  gen-inventory.py netpol W P DIR  W Deployments and P NetworkPolicies, in 50 namespaces

Files of 50 documents each; some roles aggregate, some rules use wildcards and resourceNames,
some policies select by matchExpressions and peer across namespaces, so every path of the
graph and of the reach query is exercised."""
import os
import sys

kind = sys.argv[1]
out = sys.argv[-1]
os.makedirs(out, exist_ok=True)


def write(docs, prefix):
    for start in range(0, len(docs), 50):
        with open(os.path.join(out, f"{prefix}-{start // 50:04}.yaml"), "w") as fh:
            fh.write("---\n".join(docs[start:start + 50]))


if kind == "rbac":
    n = int(sys.argv[2])
    docs = []
    for i in range(n // 2):
        ns = f"ns-{i % 50}"
        resources = '["*"]' if i % 17 == 0 else '["secrets", "configmaps"]' if i % 3 == 0 else '["pods", "pods/log"]'
        names = f"\n    resourceNames: [cfg-{i}]" if i % 5 == 0 else ""
        if i % 4 == 0:
            labels = f"\n  labels: {{example.com/aggregate-to-agg-{i % 10}: \"true\"}}"
            docs.append(f"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cr-{i}{labels}\nrules:\n  - apiGroups: [\"\"]\n    resources: {resources}\n    verbs: [get, list, watch]{names}\n")
        else:
            docs.append(f"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: role-{i}\n  namespace: {ns}\nrules:\n  - apiGroups: [\"\"]\n    resources: {resources}\n    verbs: [get, list]{names}\n  - apiGroups: [apps]\n    resources: [deployments]\n    verbs: [get, patch]\n")
    for a in range(10):
        docs.append(f"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: agg-{a}\naggregationRule:\n  clusterRoleSelectors:\n    - matchLabels: {{example.com/aggregate-to-agg-{a}: \"true\"}}\nrules: []\n")
    for i in range(n // 2):
        ns = f"ns-{i % 50}"
        if i % 10 == 0:
            docs.append(f"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: crb-{i}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: agg-{i % 10}}}\nsubjects:\n  - {{kind: Group, name: team-{i % 40}, apiGroup: rbac.authorization.k8s.io}}\n")
        elif i % 4 == 0:
            docs.append(f"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-{i}\n  namespace: {ns}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr-{i}}}\nsubjects:\n  - {{kind: ServiceAccount, name: sa-{i}, namespace: {ns}}}\n")
        else:
            role = i - i % 4 + 1 if (i - i % 4 + 1) < n // 2 else 1
            docs.append(f"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-{i}\n  namespace: {ns}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: role-{role}}}\nsubjects:\n  - {{kind: ServiceAccount, name: sa-{i}, namespace: {ns}}}\n  - {{kind: User, name: user-{i % 100}, apiGroup: rbac.authorization.k8s.io}}\n")
    write(docs, "rbac")
elif kind == "netpol":
    w, p = int(sys.argv[2]), int(sys.argv[3])
    docs = []
    for ns in range(50):
        docs.append(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{ns}\n  labels: {{tier: t-{ns % 5}}}\n")
    for i in range(w):
        docs.append(f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: ns-{i % 50}\nspec:\n  selector:\n    matchLabels: {{app: app-{i}}}\n  template:\n    metadata:\n      labels: {{app: app-{i}, role: r-{i % 7}}}\n    spec:\n      containers:\n        - name: app\n          image: app:1.0\n          ports: [{{name: http, containerPort: 8080}}, {{name: metrics, containerPort: 9090}}]\n")
    for i in range(p):
        ns = i % 50
        docs.append(f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np-{i}\n  namespace: ns-{ns}\nspec:\n  podSelector:\n    matchExpressions: [{{key: role, operator: In, values: [r-{i % 7}, r-{(i + 3) % 7}]}}]\n  policyTypes: [Ingress, Egress]\n  ingress:\n    - from:\n        - namespaceSelector: {{matchLabels: {{tier: t-{i % 5}}}}}\n          podSelector: {{matchLabels: {{role: r-{(i + 1) % 7}}}}}\n        - podSelector: {{matchLabels: {{app: app-{(i * 7) % max(w, 1)}}}}}\n      ports: [{{port: http}}, {{port: 9000, endPort: 9100}}]\n  egress:\n    - to: [{{ipBlock: {{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}}}]\n    - to: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: ns-{(ns + 1) % 50}}}}}}}]\n      ports: [{{port: 8080}}]\n")
    write(docs, "netpol")
else:
    sys.exit("usage: gen-inventory.py rbac N DIR | netpol W P DIR")
