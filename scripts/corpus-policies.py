#!/usr/bin/env python3
"""Copies every Kyverno policy the dev corpus's kyverno-test.yaml files name (MANIFEST.json in
CORPUS) into OUT, numbered, once each; prints how many on stderr. The benchmarks' policy set.

  corpus-policies.py CORPUS OUT"""
import json
import os
import shutil
import sys

corpus, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
seen = set()
for t in json.load(open(os.path.join(corpus, "MANIFEST.json"))):
    test = os.path.join(corpus, t["test"])
    base = os.path.dirname(test)
    in_policies = False
    for line in open(test):
        if line.startswith("policies:"):
            in_policies = True
            continue
        if in_policies and line.lstrip().startswith("- "):
            p = os.path.normpath(os.path.join(base, line.strip()[2:].strip()))
            if p not in seen:
                seen.add(p)
                shutil.copy(p, os.path.join(out, f"{len(seen):03d}-{os.path.basename(p)}"))
        elif in_policies and not line.startswith(" "):
            in_policies = False
print(f"{len(seen)} policies", file=sys.stderr)
