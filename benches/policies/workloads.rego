package main

import rego.v1

# Twenty-five conftest-style rules over workloads, services, config and RBAC: the benchmark's
# policy set (benches/README in docs/benchmarks.md).

containers contains c if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}
	some c in input.spec.template.spec.containers
}

pod_spec := input.spec.template.spec if input.kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}

deny contains sprintf("%s: container %s uses :latest", [input.metadata.name, c.name]) if {
	some c in containers
	endswith(c.image, ":latest")
}

deny contains sprintf("%s: container %s has no tag", [input.metadata.name, c.name]) if {
	some c in containers
	not contains(c.image, ":")
}

deny contains sprintf("%s: container %s has no memory limit", [input.metadata.name, c.name]) if {
	some c in containers
	not c.resources.limits.memory
}

deny contains sprintf("%s: container %s has no cpu limit", [input.metadata.name, c.name]) if {
	some c in containers
	not c.resources.limits.cpu
}

deny contains sprintf("%s: container %s memory limit above 1Gi", [input.metadata.name, c.name]) if {
	some c in containers
	units.parse_bytes(c.resources.limits.memory) > units.parse_bytes("1Gi")
}

warn contains sprintf("%s: container %s has no memory request", [input.metadata.name, c.name]) if {
	some c in containers
	not c.resources.requests.memory
}

deny contains sprintf("%s: pods must run as non-root", [input.metadata.name]) if {
	pod_spec
	not pod_spec.securityContext.runAsNonRoot
}

deny contains sprintf("%s: container %s is privileged", [input.metadata.name, c.name]) if {
	some c in containers
	c.securityContext.privileged
}

deny contains sprintf("%s: hostNetwork", [input.metadata.name]) if pod_spec.hostNetwork

deny contains sprintf("%s: hostPID", [input.metadata.name]) if pod_spec.hostPID

deny contains sprintf("%s: hostIPC", [input.metadata.name]) if pod_spec.hostIPC

warn contains sprintf("%s: container %s may escalate privileges", [input.metadata.name, c.name]) if {
	some c in containers
	not c.securityContext.allowPrivilegeEscalation == false
}

warn contains sprintf("%s: container %s root filesystem is writable", [input.metadata.name, c.name]) if {
	some c in containers
	not c.securityContext.readOnlyRootFilesystem
}

warn contains sprintf("%s: container %s has no liveness probe", [input.metadata.name, c.name]) if {
	some c in containers
	not c.livenessProbe
}

warn contains sprintf("%s: container %s has no readiness probe", [input.metadata.name, c.name]) if {
	some c in containers
	not c.readinessProbe
}

deny contains sprintf("%s: hostPath volume %s", [input.metadata.name, v.name]) if {
	some v in pod_spec.volumes
	v.hostPath
}

warn contains sprintf("%s: a single replica", [input.metadata.name]) if {
	input.kind == "Deployment"
	input.spec.replicas < 2
}

warn contains sprintf("%s: missing the app label", [input.metadata.name]) if {
	input.kind in {"Deployment", "Service", "StatefulSet"}
	not input.metadata.labels.app
}

deny contains sprintf("%s: no namespace", [input.metadata.name]) if not input.metadata.namespace

deny contains sprintf("Service %s is a NodePort", [input.metadata.name]) if {
	input.kind == "Service"
	input.spec.type == "NodePort"
}

warn contains sprintf("Service %s is a LoadBalancer", [input.metadata.name]) if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
}

deny contains sprintf("Role %s grants every resource", [input.metadata.name]) if {
	input.kind in {"Role", "ClusterRole"}
	some r in input.rules
	"*" in r.resources
}

deny contains sprintf("Role %s grants every verb", [input.metadata.name]) if {
	input.kind in {"Role", "ClusterRole"}
	some r in input.rules
	"*" in r.verbs
}

deny contains sprintf("Role %s can read Secrets", [input.metadata.name]) if {
	input.kind in {"Role", "ClusterRole"}
	some r in input.rules
	"secrets" in r.resources
	some v in r.verbs
	v in {"get", "list", "watch"}
}

deny contains sprintf("%s binds cluster-admin", [input.metadata.name]) if {
	input.kind in {"RoleBinding", "ClusterRoleBinding"}
	input.roleRef.name == "cluster-admin"
}
