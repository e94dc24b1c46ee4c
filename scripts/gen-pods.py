#!/usr/bin/env python3
"""Writes N workloads into DIR for the Kyverno benchmark: alternating Pods and Deployments,
one per file, with the variety the dev-corpus policies look at (image tags and registries,
privileged and host settings, probes, resources, labels, security contexts)."""
import os
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
out = sys.argv[2] if len(sys.argv) > 2 else "workloads"
os.makedirs(out, exist_ok=True)


def pod_spec(i, indent):
    tag = "latest" if i % 7 == 0 else f"1.{i % 30}.0"
    registry = "docker.io/library" if i % 3 == 0 else "ghcr.io/acme"
    privileged = "true" if i % 17 == 0 else "false"
    host_port = f"\n        hostPort: {5000 + i % 2000}" if i % 19 == 0 else ""
    limits = "" if i % 5 == 0 else "\n      limits:\n        cpu: 500m\n        memory: 256Mi"
    probes = "" if i % 4 == 0 else (
        "\n    livenessProbe:\n      httpGet: {path: /healthz, port: 8080}"
        "\n    readinessProbe:\n      httpGet: {path: /ready, port: 8080}"
    )
    host_network = "\nhostNetwork: true" if i % 23 == 0 else ""
    spec = f"""containers:
  - name: app
    image: {registry}/app-{i % 40}:{tag}
    ports:
      - containerPort: 8080{host_port}
    resources:
      requests:
        cpu: 100m
        memory: 128Mi{limits}
    securityContext:
      privileged: {privileged}
      allowPrivilegeEscalation: {"true" if i % 9 == 0 else "false"}
      runAsNonRoot: {"false" if i % 6 == 0 else "true"}
      capabilities:
        drop: ["ALL"]{probes}
  - name: sidecar
    image: ghcr.io/acme/proxy@sha256:{i:064x}
    resources:
      requests: {{cpu: 50m, memory: 64Mi}}
      limits: {{cpu: 100m, memory: 64Mi}}
automountServiceAccountToken: {"true" if i % 8 == 0 else "false"}{host_network}
volumes:
  - name: data
    {"hostPath: {path: /var/data}" if i % 29 == 0 else "emptyDir: {}"}"""
    pad = " " * indent
    return "\n".join(pad + line for line in spec.splitlines())


for i in range(n):
    labels = f"app: app-{i % 40}\n    team: team-{i % 5}" if i % 10 else f"app: app-{i % 40}"
    if i % 2 == 0:
        doc = f"""apiVersion: v1
kind: Pod
metadata:
  name: pod-{i}
  namespace: ns-{i % 50}
  labels:
    {labels}
spec:
{pod_spec(i, 2)}
"""
    else:
        doc = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: deploy-{i}
  namespace: ns-{i % 50}
  labels:
    {labels}
spec:
  replicas: {1 + i % 4}
  selector:
    matchLabels:
      app: app-{i % 40}
  template:
    metadata:
      labels:
        {labels.replace(chr(10) + "    ", chr(10) + "        ")}
    spec:
{pod_spec(i, 6)}
"""
    with open(os.path.join(out, f"w{i:05d}.yaml"), "w") as fh:
        fh.write(doc)
