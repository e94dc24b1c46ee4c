#!/usr/bin/env python3
"""Writes a Kustomize repository for the rendering benchmark into DIR.

  gen-kustomize.py ROOTS DIR

20 bases (a Deployment, a Service and a ConfigMap each) and ROOTS overlays, each including one
base with its own namespace, a name prefix, a label and a JSON patch of the replica count, as
a repository with one overlay per environment and team looks."""
import os
import sys

roots = int(sys.argv[1])
out = sys.argv[2]
for b in range(20):
    d = os.path.join(out, "bases", f"app-{b}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "kustomization.yaml"), "w") as fh:
        fh.write("resources:\n  - deployment.yaml\n  - service.yaml\n  - config.yaml\n")
    with open(os.path.join(d, "deployment.yaml"), "w") as fh:
        fh.write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{b}
  labels: {{app: app-{b}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: app-{b}}}
  template:
    metadata:
      labels: {{app: app-{b}}}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: app
          image: ghcr.io/example/app-{b}:1.{b}.0
          ports:
            - containerPort: 8080
          resources:
            limits:
              memory: 256Mi
""")
    with open(os.path.join(d, "service.yaml"), "w") as fh:
        fh.write(f"apiVersion: v1\nkind: Service\nmetadata:\n  name: app-{b}\nspec:\n  selector: {{app: app-{b}}}\n  ports:\n    - port: 80\n      targetPort: 8080\n")
    with open(os.path.join(d, "config.yaml"), "w") as fh:
        fh.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{b}\ndata:\n  level: info\n")
for r in range(roots):
    d = os.path.join(out, "overlays", f"env-{r:03}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "kustomization.yaml"), "w") as fh:
        fh.write(f"""namespace: team-{r % 40}
namePrefix: env{r}-
labels:
  - pairs: {{env: env-{r}}}
resources:
  - ../../bases/app-{r % 20}
patches:
  - target: {{kind: Deployment}}
    patch: |
      - op: replace
        path: /spec/replicas
        value: {1 + r % 3}
""")
