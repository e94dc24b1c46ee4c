# METADATA
# title: Secrets hygiene
# description: Secrets committed to a GitOps repository must be encrypted.
package tollgate.k8s.secrets

import rego.v1

# METADATA
# title: A Secret holds plaintext values
# description: >-
#   A Secret manifest whose `data` or `stringData` values are not SOPS-encrypted puts the
#   secret in git history for everyone with read access, forever. Values that are references
#   resolved elsewhere are not secrets: `op://` (1Password), `ref+...://` (vals),
#   `<path:...>` (argocd-vault-plugin), `${VAR}` and `${VAR:=default}` (Flux postBuild),
#   `vault:...`, and empty strings; in `data` they are recognised once base64-decoded.
# custom:
#   id: SECRET001
#   severity: error
#   sensitive: true
#   fix: Encrypt the file with `tollgate sops encrypt -i` (see `.sops.yaml` creation rules) and rotate the exposed secret.
deny_plaintext contains {"msg": sprintf("Secret value %s.%s is not encrypted", [section, key]), "field": sprintf("%s[%s]", [section, json.marshal(key)])} if {
	input.kind == "Secret"
	input.apiVersion == "v1"
	some section in ["data", "stringData"]
	some key, value in input[section]
	is_string(value)
	value != ""
	not startswith(value, "ENC[AES256_GCM,")
	not reference(plain(section, value))
}

# The text a value stands for: `data` values are base64 (one that does not decode is kept as
# written, and judged as such).
plain("data", value) := decoded if {
	# base64.decode fails (an evaluation error, not undefined) on anything else.
	regex.match(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`, value)
	decoded := base64.decode(value)
} else := value

plain("stringData", value) := value

# A reference to a secret kept elsewhere, which a controller or plugin resolves.
reference(v) if startswith(v, "op://")

reference(v) if regex.match(`^ref\+[a-z0-9]+://`, v)

reference(v) if regex.match(`^<path:[^>]+>$`, v)

reference(v) if regex.match(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[=-][^}]*)?\}$`, v)

reference(v) if startswith(v, "vault:")
