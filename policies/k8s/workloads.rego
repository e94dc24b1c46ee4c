# METADATA
# title: Kubernetes workload basics
# description: Pod-level hardening every workload should have, for Pods and all pod controllers.
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
# title: Images use a mutable tag
# description: >-
#   An image without a tag, or tagged `latest`, can change under the same name: the
#   cluster may run something nobody reviewed, and a rollback does not restore the old code.
# custom:
#   id: IMG001
#   severity: error
#   fix: Use an immutable version tag (`app:1.4.2`) or a digest (`app@sha256:…`).
deny_mutable_tag contains {"msg": sprintf("container %s uses the mutable image %s", [c.name, c.image]), "field": sprintf("%s.image", [path])} if {
	some [path, c] in containers
	not contains(c.image, "@sha256:")
	mutable(c.image)
}

mutable(image) if endswith(image, ":latest")

mutable(image) if not contains(split(image, "/")[count(split(image, "/")) - 1], ":")

# METADATA
# title: Images are not pinned by digest
# description: >-
#   A tag can be moved to another image; only a digest names exactly one image, which is what
#   signature verification and reproducible rollouts rely on.
# custom:
#   id: IMG002
#   severity: info
#   fix: Append the digest the tag resolves to (`app:1.4.2@sha256:…`); tools such as Renovate keep it current.
warn_not_pinned contains {"msg": sprintf("container %s image %s is not pinned by digest", [c.name, c.image]), "field": sprintf("%s.image", [path])} if {
	some [path, c] in containers
	not contains(c.image, "@sha256:")
}

# METADATA
# title: Pods may run as root
# description: >-
#   Without `runAsNonRoot: true` a container may run as UID 0; a container escape then starts
#   as root on the node.
# custom:
#   id: POD001
#   severity: error
#   fix: "Set `securityContext.runAsNonRoot: true` on the pod (or on every container) and run the image as a non-root user."
deny_run_as_root contains {"msg": "the pod does not set securityContext.runAsNonRoot", "field": pod.path} if {
	pod.spec
	not pod.spec.securityContext.runAsNonRoot
	some [_, c] in containers
	not c.securityContext.runAsNonRoot
}

# METADATA
# title: Containers are privileged
# description: A privileged container has every capability and the host's devices; it is the node.
# custom:
#   id: POD002
#   severity: error
#   fix: "Remove `privileged: true`; grant only the capabilities the container needs."
deny_privileged contains {"msg": sprintf("container %s is privileged", [c.name]), "field": sprintf("%s.securityContext.privileged", [path])} if {
	some [path, c] in containers
	c.securityContext.privileged == true
}

# METADATA
# title: Pods share the host's namespaces
# description: hostNetwork, hostPID and hostIPC let a pod see and reach the node's processes and network.
# custom:
#   id: POD003
#   severity: error
#   fix: Remove `hostNetwork`, `hostPID` and `hostIPC`, or move the workload to a dedicated, isolated node pool.
deny_host_namespaces contains {"msg": sprintf("the pod uses %s", [field]), "field": sprintf("%s.%s", [pod.path, field])} if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pod.spec[field] == true
}

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
