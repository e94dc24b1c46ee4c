#!/usr/bin/env python3
"""Writes N Kubernetes manifests into DIR for benchmarks: files of four documents each
(Deployment, Service, ConfigMap, and a Role or RoleBinding), some of them violating rules."""
import os
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
out = sys.argv[2] if len(sys.argv) > 2 else "manifests"
os.makedirs(out, exist_ok=True)
for f in range(n // 4):
    i = f * 4
    tag = "latest" if f % 7 == 0 else f"1.{f % 30}.0"
    limits = "" if f % 5 == 0 else "\n              limits:\n                cpu: 500m\n                memory: 256Mi"
    resources = '"*"' if f % 11 == 0 else '"pods"'
    role = "cluster-admin" if f % 13 == 0 else "view"
    rbac = (
        f"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: role-{i}\n  namespace: ns-{f % 50}\nrules:\n"
        f"  - apiGroups: [\"\"]\n    resources: [{resources}]\n    verbs: [\"get\", \"list\"]\n"
        if f % 2 == 0
        else f"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-{i}\n  namespace: ns-{f % 50}\n"
        f"roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {role}\n"
        f"subjects:\n  - kind: ServiceAccount\n    name: app-{i}\n    namespace: ns-{f % 50}\n"
    )
    docs = [
        f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: ns-{f % 50}
  labels:
    app: app-{i}
spec:
  replicas: {1 + f % 3}
  selector:
    matchLabels:
      app: app-{i}
  template:
    metadata:
      labels:
        app: app-{i}
    spec:
      securityContext:
        runAsNonRoot: {"false" if f % 9 == 0 else "true"}
      containers:
        - name: app
          image: registry.example.com/app-{f % 100}:{tag}
          ports:
            - containerPort: 8080
          resources:
            requests:
              cpu: 100m
              memory: 128Mi{limits}
          readinessProbe:
            httpGet:
              path: /ready
              port: 8080
""",
        f"""apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: ns-{f % 50}
spec:
  type: {"NodePort" if f % 17 == 0 else "ClusterIP"}
  selector:
    app: app-{i}
  ports:
    - port: 80
      targetPort: 8080
""",
        f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: cm-{i}
  namespace: ns-{f % 50}
data:
  LOG_LEVEL: info
  FEATURE_{f % 10}: "on"
""",
        rbac,
    ]
    with open(os.path.join(out, f"app-{f:05d}.yaml"), "w") as fh:
        fh.write("---\n".join(docs))
