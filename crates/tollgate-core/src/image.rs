//! Container image references, parsed once by Docker's reference grammar (the one
//! `distribution/reference` implements and every container runtime applies) into registry,
//! repository, tag and digest. The image rules judge these parts, and signature verification
//! resolves and verifies them, so they must agree with what the kubelet will pull: `nginx` is
//! `docker.io/library/nginx`, `localhost:5000/app` names a registry, `Team/app` is rejected.

use std::fmt;

/// Docker Hub, as a reference without a registry names it.
pub const DOCKER_HUB: &str = "docker.io";

/// The longest repository name (registry included) the grammar allows.
const NAME_MAX: usize = 255;
/// The longest tag.
const TAG_MAX: usize = 128;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    /// The registry host, with its port (`docker.io`, `ghcr.io`, `localhost:5000`,
    /// `[::1]:5000`); Docker Hub when the reference names none.
    pub registry: String,
    /// The repository path in the registry (`library/nginx`, `acme/app`).
    pub repository: String,
    /// The tag, if any (`1.25`, `latest`).
    pub tag: Option<String>,
    /// The digest, if any (`sha256:…`, lowercase hex).
    pub digest: Option<String>,
}

/// Why a string is not an image reference; the text says what is wrong in the grammar's
/// terms, as the container runtime's `InvalidImageName` would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError(pub String);

impl fmt::Display for RefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefError {}

fn err<T>(message: impl Into<String>) -> Result<T, RefError> {
    Err(RefError(message.into()))
}

impl ImageRef {
    /// Parses `reference` as a container runtime does, normalized (Docker Hub and its
    /// `library/` namespace made explicit).
    pub fn parse(reference: &str) -> Result<ImageRef, RefError> {
        if reference.is_empty() {
            return err("the image reference is empty");
        }
        if reference.trim() != reference {
            return err("the image reference has leading or trailing whitespace");
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(parse_digest(digest)?)),
            None => (reference, None),
        };
        // A tag follows the last `:` after the last `/` (a `:` before it is a registry port).
        let slash = rest.rfind('/').map_or(0, |i| i.saturating_add(1));
        let (name, tag) = match rest.get(slash..).and_then(|last| last.rfind(':')) {
            Some(colon) => {
                let at = slash.saturating_add(colon);
                let name = rest.get(..at).unwrap_or_default();
                let tag = rest.get(at.saturating_add(1)..).unwrap_or_default();
                (name, Some(parse_tag(tag)?))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return err("the image reference has no repository name");
        }
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return err("an image ID (64 hexadecimal characters) is not a repository name");
        }
        let (registry, path) = split_registry(name);
        if let Some(r) = registry {
            check_registry(r)?;
        }
        check_path(path)?;
        let registry = match registry {
            None | Some("index.docker.io") => DOCKER_HUB,
            Some(r) => r,
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        if registry
            .len()
            .saturating_add(1)
            .saturating_add(repository.len())
            > NAME_MAX
        {
            return err(format!(
                "the repository name is longer than {NAME_MAX} characters"
            ));
        }
        Ok(ImageRef {
            registry: registry.to_owned(),
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// `registry/repository`: the image without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag a runtime pulls: the reference's own, else `latest` (unless it has a digest,
    /// which is then all that is pulled).
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// Whether the same reference can name different images over time: no digest, and the
    /// tag is `latest` or absent (which pulls `latest`). A version tag can be moved too, but
    /// by convention is not; IMG002 asks for the digest that makes it certain.
    pub fn is_mutable(&self) -> bool {
        self.digest.is_none() && self.effective_tag() == Some("latest")
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Whether the first component of a name is a registry host: it has a `.` or a `:`, is
/// `localhost`, or is not all lowercase (repository paths cannot have uppercase letters, so
/// Docker reads it as a host; a bracketed IPv6 address has its `:`). Kyverno's `images`
/// variable splits by the same rule.
pub(crate) fn is_registry_component(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
}

/// The registry part of a name, if its first component is one, and the path after it.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if is_registry_component(first) || first.starts_with('[') => {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// `host[:port]`, the host a DNS name, an IPv4 address or a bracketed IPv6 address.
fn check_registry(registry: &str) -> Result<(), RefError> {
    let (host, port) = if let Some(v6) = registry.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return err(format!(
                "registry `{registry}`: an IPv6 address needs its closing `]`"
            ));
        };
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return err(format!(
                "registry `{registry}`: `{addr}` is not an IPv6 address"
            ));
        }
        match after {
            "" => ("", None),
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return err(format!("registry `{registry}`: unexpected `{after}`")),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return err(format!(
                "registry `{registry}`: the port `{port}` is not a number"
            ));
        }
    }
    if !registry.starts_with('[') {
        for label in host.split('.') {
            let ok = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return err(format!(
                    "registry `{registry}`: `{label}` is not a host name component"
                ));
            }
        }
    }
    Ok(())
}

/// Path components of lowercase letters and digits, joined by `.`, `_`, `__` or runs of `-`.
fn check_path(path: &str) -> Result<(), RefError> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return err(format!("repository name `{path}` must be lowercase"));
    }
    for component in path.split('/') {
        let bytes = component.as_bytes();
        let edge_ok =
            |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !edge_ok(bytes.first()) || !edge_ok(bytes.last()) {
            return err(format!(
                "repository name `{path}`: the component `{component}` must start and end with a letter or digit"
            ));
        }
        let mut separator = String::new();
        for &b in bytes {
            if b.is_ascii_lowercase() || b.is_ascii_digit() {
                let ok = matches!(separator.as_str(), "" | "." | "_" | "__")
                    || separator.bytes().all(|s| s == b'-');
                if !ok {
                    return err(format!(
                        "repository name `{path}`: `{separator}` is not a separator (use `.`, `_`, `__` or `-`)"
                    ));
                }
                separator.clear();
            } else if matches!(b, b'.' | b'_' | b'-') {
                separator.push(char::from(b));
            } else {
                return err(format!(
                    "repository name `{path}`: `{}` is not allowed",
                    char::from(b).escape_default()
                ));
            }
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn parse_tag(tag: &str) -> Result<&str, RefError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = tag.as_bytes().first().is_some_and(|&b| word(b))
        && tag.len() <= TAG_MAX
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(tag)
    } else if tag.is_empty() {
        err("the tag after `:` is empty")
    } else {
        err(format!(
            "`{}` is not a tag (letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, at most {TAG_MAX} characters)",
            tag.escape_default()
        ))
    }
}

/// `algorithm:hex`, for the algorithms runtimes accept (sha256, sha384, sha512), the hex
/// lowercase and as long as the algorithm's output.
fn parse_digest(digest: &str) -> Result<String, RefError> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return err(format!(
            "`{digest}` is not a digest (`sha256:` and 64 hex digits)"
        ));
    };
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        other => {
            return err(format!(
                "`{other}` is not a digest algorithm a registry accepts (sha256, sha384, sha512)"
            ))
        }
    };
    if hex.len() != len
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return err(format!(
            "the {algorithm} digest must be {len} lowercase hexadecimal digits"
        ));
    }
    Ok(digest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (r.registry, r.repository, r.tag, r.digest)
    }

    fn p(
        reg: &str,
        repo: &str,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> (String, String, Option<String>, Option<String>) {
        (
            reg.into(),
            repo.into(),
            tag.map(Into::into),
            digest.map(Into::into),
        )
    }

    #[test]
    fn docker_hub_names_get_their_registry_and_library_namespace() {
        // One component: an official image, `library/` on Docker Hub.
        assert_eq!(parts("nginx"), p("docker.io", "library/nginx", None, None));
        assert_eq!(
            parts("nginx:1.25"),
            p("docker.io", "library/nginx", Some("1.25"), None)
        );
        // Two components and the first has no `.`/`:` and is not localhost: still Docker Hub,
        // a user's namespace, no `library/`.
        assert_eq!(
            parts("bitnami/redis:7"),
            p("docker.io", "bitnami/redis", Some("7"), None)
        );
        // Written out, and through the legacy index host: the same image.
        assert_eq!(
            parts("docker.io/nginx"),
            p("docker.io", "library/nginx", None, None)
        );
        assert_eq!(
            parts("index.docker.io/library/nginx"),
            p("docker.io", "library/nginx", None, None)
        );
    }

    #[test]
    fn registries_are_recognised_by_dot_colon_or_localhost() {
        assert_eq!(
            parts("ghcr.io/acme/app:v1"),
            p("ghcr.io", "acme/app", Some("v1"), None)
        );
        // A port: the `:` before the last `/` belongs to the registry, not the tag.
        assert_eq!(
            parts("registry.example.com:5000/team/app"),
            p("registry.example.com:5000", "team/app", None, None)
        );
        assert_eq!(parts("localhost/app"), p("localhost", "app", None, None));
        assert_eq!(
            parts("localhost:5000/app:1"),
            p("localhost:5000", "app", Some("1"), None)
        );
        // Without a `/`, `localhost:5000` is the image `localhost` tagged `5000` on Docker Hub,
        // as Docker reads it.
        assert_eq!(
            parts("localhost:5000"),
            p("docker.io", "library/localhost", Some("5000"), None)
        );
        // IPv4 and IPv6 hosts.
        assert_eq!(
            parts("10.0.0.1:5000/app"),
            p("10.0.0.1:5000", "app", None, None)
        );
        assert_eq!(
            parts("[::1]:5000/app:2"),
            p("[::1]:5000", "app", Some("2"), None)
        );
        assert_eq!(parts("[fe80::1]/app"), p("[fe80::1]", "app", None, None));
    }

    #[test]
    fn tags_and_digests_split_where_the_grammar_says() {
        assert_eq!(
            parts(&format!("nginx@{D}")),
            p("docker.io", "library/nginx", None, Some(D))
        );
        assert_eq!(
            parts(&format!("ghcr.io/a/b:1.2@{D}")),
            p("ghcr.io", "a/b", Some("1.2"), Some(D))
        );
        assert_eq!(
            parts("a/b:_x.y-z"),
            p("docker.io", "a/b", Some("_x.y-z"), None)
        );
        // Separators inside a component.
        assert_eq!(
            parts("a/b.c_d__e---f"),
            p("docker.io", "a/b.c_d__e---f", None, None)
        );
    }

    #[test]
    fn what_the_grammar_rejects_is_an_error_naming_the_part() {
        for (bad, says) in [
            ("", "empty"),
            ("Nginx", "lowercase"),
            ("ghcr.io/Acme/app", "lowercase"),
            ("nginx:", "tag after"),
            ("nginx:-1", "not a tag"),
            (&format!("nginx:{}", "a".repeat(129)), "not a tag"),
            ("nginx@sha256:abc", "64 lowercase"),
            (&format!("nginx@sha256:{}", "A".repeat(64)), "lowercase"),
            (
                &format!("nginx@md5:{}", "a".repeat(32)),
                "not a digest algorithm",
            ),
            ("nginx@", "not a digest"),
            ("a//b", "start and end"),
            ("a/-b", "start and end"),
            ("a/b..c", "not a separator"),
            ("a/b_-c", "not a separator"),
            ("a/b c", "not allowed"),
            ("exa_mple.com/app", "host name component"),
            ("host:port/app", "not a number"),
            ("[::1/app", "closing"),
            ("[zz]/app", "not an IPv6"),
            (" nginx", "whitespace"),
            (&"0123456789abcdef".repeat(4), "image ID"),
            (&format!("r.io/{}", "a".repeat(255)), "longer than 255"),
        ] {
            let e = ImageRef::parse(bad).expect_err(bad);
            assert!(e.0.contains(says), "{bad}: {e}");
        }
        // An uppercase registry host is valid (DNS is case-insensitive); an uppercase first
        // component is read as a host for that reason, so `Team/app` is the image `app` on a
        // registry `Team`, as Docker reads it, not Docker Hub's `team/app`.
        assert_eq!(
            parts("Registry.Example.com/app"),
            p("Registry.Example.com", "app", None, None)
        );
        assert_eq!(parts("Team/app"), p("Team", "app", None, None));
    }

    #[test]
    fn mutability_follows_what_the_runtime_pulls() {
        let m = |s: &str| ImageRef::parse(s).unwrap().is_mutable();
        // No tag pulls `latest`; `latest` can be moved at any push.
        assert!(m("nginx"));
        assert!(m("nginx:latest"));
        // A version tag is taken as a release (IMG002 asks for its digest).
        assert!(!m("nginx:1.25"));
        // A digest pins the image, whatever the tag says.
        assert!(!m(&format!("nginx:latest@{D}")));
        assert!(!m(&format!("nginx@{D}")));
        assert_eq!(
            ImageRef::parse("nginx").unwrap().to_string(),
            "docker.io/library/nginx"
        );
    }
}
