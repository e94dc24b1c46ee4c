# An example policy: replace with your own Rego or Kyverno policies (one ConfigMap key each).
package main

import rego.v1

# METADATA
# title: Pods name their team
# custom:
#   id: EXAMPLE001
#   severity: warning
warn contains msg if {
	input.kind == "Pod"
	not input.metadata.labels.team
	msg := sprintf("Pod %s has no team label", [input.metadata.name])
}
