#!/usr/bin/env python3
"""Pushes small one-layer images to an OCI registry over plain HTTP (a local docker-registry)
and, with --sign KEY, a cosign signature of each in cosign's simple-signing format, made with
the openssl command line (a TEST-ONLY key: fixtures/images/keys). For the demo and the
benchmarks; prints `REPO:TAG DIGEST` per image.

Usage: oci-push.py --registry HOST:PORT [--sign KEY.key] REPO:TAG...
"""
import argparse
import base64
import hashlib
import json
import subprocess
import tempfile
import urllib.request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def request(method, url, data=None, content_type=None):
    req = urllib.request.Request(url, data=data, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, dict(r.headers)


def blob(host, repo, data: bytes) -> str:
    d = digest(data)
    _, headers = request("POST", f"http://{host}/v2/{repo}/blobs/uploads/", data=b"")
    location = headers["Location"]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    sep = "&" if "?" in location else "?"
    request("PUT", f"{location}{sep}digest={d}", data=data, content_type="application/octet-stream")
    return d


def manifest(host, repo, reference, body: bytes) -> str:
    request("PUT", f"http://{host}/v2/{repo}/manifests/{reference}", data=body, content_type=OCI_MANIFEST)
    return digest(body)


def image(host, repo, tag) -> str:
    content = f"{repo}:{tag}".encode()
    layer = blob(host, repo, content)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
    cfg = blob(host, repo, config)
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": len(content)}],
    }, separators=(",", ":")).encode()
    return manifest(host, repo, tag, body)


def sign(host, repo, manifest_digest, key):
    payload = json.dumps({
        "critical": {"identity": {"docker-reference": f"{host}/{repo}"},
                     "image": {"docker-manifest-digest": manifest_digest},
                     "type": "cosign container image signature"},
        "optional": None,
    }, separators=(",", ":")).encode()
    with tempfile.NamedTemporaryFile() as f:
        f.write(payload)
        f.flush()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, f.name], check=True, capture_output=True).stdout
    cfg = blob(host, repo, b"{}")
    layer = blob(host, repo, payload)
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": layer, "size": len(payload),
                    "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(sig).decode()}}],
    }, separators=(",", ":")).encode()
    manifest(host, repo, manifest_digest.replace(":", "-", 1) + ".sig", body)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--registry", required=True)
    p.add_argument("--sign")
    p.add_argument("images", nargs="+")
    a = p.parse_args()
    for ref in a.images:
        repo, tag = ref.rsplit(":", 1)
        d = image(a.registry, repo, tag)
        if a.sign:
            sign(a.registry, repo, d, a.sign)
        print(ref, d)


if __name__ == "__main__":
    main()
