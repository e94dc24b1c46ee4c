#!/usr/bin/env python3
"""Writes a multi-document Kubernetes manifest of Secrets for benchmarks: DOCS documents with
five values each (apiVersion, kind, metadata.name, stringData.username, stringData.password)."""
import sys

docs = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
out = []
for i in range(docs):
    out.append(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{i}\n"
        f"stringData:\n  username: user-{i}\n  password: p4ss-{i:06d}-{'x' * (i % 17)}\n"
    )
sys.stdout.write("---\n".join(out))
