#!/usr/bin/env python3
"""Writes a repository of N files into DIR for the secrets audit benchmark: one in five a
SOPS-encrypted Secret (copies of SEALED/ns-K.yaml, the `db` Secret of namespace ns-K that sops
or tollgate encrypted, K from 0 to 49), the rest manifests with environment variables,
ConfigMaps and annotations for the literal detectors, whose pods read the `db` Secret of
their namespace, and a .sops.yaml whose rule names the encrypted files' recipient, so every
SOPS file is judged for drift as well.
Usage: gen-secrets-repo.py N DIR SEALED RECIPIENT"""
import os
import sys

n, out, sealed_dir, recipient = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
os.makedirs(os.path.join(out, "secrets"), exist_ok=True)
os.makedirs(os.path.join(out, "apps"), exist_ok=True)
with open(os.path.join(out, ".sops.yaml"), "w") as f:
    f.write(f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {recipient}\n")
sealed = [open(os.path.join(sealed_dir, f"ns-{k}.yaml")).read() for k in range(50)]
for i in range(n):
    if i % 5 == 0:
        with open(os.path.join(out, "secrets", f"secret-{i}.yaml"), "w") as f:
            f.write(sealed[(i // 5) % 50])
        continue
    with open(os.path.join(out, "apps", f"app-{i}.yaml"), "w") as f:
        f.write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: ns-{i % 50}
  annotations:
    team: payments
spec:
  template:
    metadata:
      annotations:
        prometheus.io/scrape: "true"
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app-{i % 40}:1.{i % 9}.0
          env:
            - {{name: LOG_LEVEL, value: info}}
            - {{name: DB_HOST, value: db-{i % 7}.internal}}
            - {{name: DB_PASSWORD, valueFrom: {{secretKeyRef: {{name: db, key: password}}}}}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{i}
  namespace: ns-{i % 50}
data:
  feature_flags: "a,b,c"
  endpoint: https://api-{i % 13}.example.com/v1
""")
