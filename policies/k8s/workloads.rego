# METADATA
# title: Kubernetes workload basics
# description: >-
#   What every workload should declare beyond the Pod Security Standards (the built-in `pss`
#   pack), for Pods and all pod controllers.
package tollgate.k8s

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

# The pod spec of any workload kind, with the field path that leads to it.
pod := {"spec": input.spec, "path": "spec"} if input.kind == "Pod"

pod := {"spec": input.spec.template.spec, "path": "spec.template.spec"} if input.kind in workload_kinds

pod := {"spec": input.spec.jobTemplate.spec.template.spec, "path": "spec.jobTemplate.spec.template.spec"} if input.kind == "CronJob"

containers contains [sprintf("%s.containers[%d]", [pod.path, i]), c] if some i, c in pod.spec.containers

containers contains [sprintf("%s.initContainers[%d]", [pod.path, i]), c] if some i, c in pod.spec.initContainers

# METADATA
# title: Containers have no memory limit
# description: A container without a memory limit can take the node's memory and get its neighbours evicted.
# custom:
#   id: POD004
#   severity: warning
#   fix: Set `resources.limits.memory` on every container.
warn_no_memory_limit contains {"msg": sprintf("container %s has no memory limit", [c.name]), "field": path} if {
	some [path, c] in containers
	not c.resources.limits.memory
}
