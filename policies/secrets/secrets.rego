# METADATA
# title: Secrets hygiene
# description: Secrets committed to a GitOps repository must be encrypted.
package tollgate.k8s.secrets

import rego.v1

# METADATA
# title: A Secret holds plaintext values
# description: >-
#   A Secret manifest whose `data` or `stringData` values are not SOPS-encrypted puts the
#   secret in git history for everyone with read access, forever.
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
}
