//! `tollgate images verify` and the image-signature rules of `check` against a real registry
//! (Debian's docker-registry on 127.0.0.1), with signatures made by openssl in cosign's
//! format: signed, unsigned, another key, a payload naming another digest, a tampered
//! signature, an index, annotations, ed25519 and RSA keys, a signature repository, an
//! unreachable registry, a missing image, HTTPS by default, and the cache offline.

mod common;

use common::registry::{keys, payload, signature, Registry};
use common::tollgate;
use std::path::Path;
use std::process::Output;

/// `tollgate images verify` with a cache of its own under `cache`.
fn verify(cache: &Path, args: &[&str]) -> Output {
    tollgate()
        .env("XDG_CACHE_HOME", cache)
        .args(["images", "verify"])
        .args(args)
        .output()
        .unwrap()
}

/// `images verify IMAGE --key NAME.pub --allow-insecure-registry HOST` (the tests' registries
/// speak plain HTTP).
fn verify_insecure(cache: &Path, image: &str, key_name: &str, host: &str) -> Output {
    verify(
        cache,
        &[
            image,
            "--key",
            &key(key_name),
            "--allow-insecure-registry",
            host,
        ],
    )
}

fn key(name: &str) -> String {
    keys().join(format!("{name}.pub")).display().to_string()
}

/// Asserts the exit code and that the output says `needle`.
fn says(o: &Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", text(o));
    assert!(
        text(o).contains(needle),
        "wanted {needle:?} in: {}",
        text(o)
    );
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn signatures_verify_only_with_the_right_key_over_the_right_digest() {
    let reg = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let h = &reg.host;
    let signed = reg.image("acme/signed", "v1", "signed");
    reg.sign("acme/signed", &signed, "cosign", &[]);
    reg.image("acme/unsigned", "v1", "unsigned");
    let other = reg.image("acme/other", "v1", "other");
    reg.sign("acme/other", &other, "other", &[]);
    // A valid signature by the right key, but over a payload naming another image: copying
    // a signature next to an image proves nothing about it.
    let moved = reg.image("acme/moved", "v1", "moved");
    let p = payload(&format!("{h}/acme/moved"), &signed, &[]);
    reg.attach(
        "acme/moved",
        &moved,
        &[(p.clone(), signature("cosign", &p))],
    );
    // The right key's signature with one byte of the payload changed after signing.
    let tampered = reg.image("acme/tampered", "v1", "tampered");
    let good = payload(&format!("{h}/acme/tampered"), &tampered, &[]);
    let sig = signature("cosign", &good);
    let bad = good.replace(
        "cosign container image signature",
        "cosign container image signaturE",
    );
    reg.attach("acme/tampered", &tampered, &[(bad, sig)]);

    let insecure = ["--allow-insecure-registry", h.as_str()];
    let cosign = key("cosign");
    let run = |image: &str| {
        let mut args = vec![image, "--key", cosign.as_str()];
        args.extend(insecure);
        verify(cache.path(), &args)
    };
    let o = run(&format!("{h}/acme/signed:v1"));
    // The tag was resolved to the digest that was signed, and the key is named.
    says(&o, 0, &format!("verified ({signed}) with key "));
    says(&o, 0, "(ecdsa-p256 ");
    // By digest, the same.
    assert_eq!(
        run(&format!("{h}/acme/signed@{signed}")).status.code(),
        Some(0)
    );

    let o = run(&format!("{h}/acme/unsigned:v1"));
    says(&o, 1, "not verified");
    says(&o, 1, "has no cosign signature");

    let o = run(&format!("{h}/acme/other:v1"));
    says(&o, 1, "none of its 1 signature(s) verifies with key");
    // With the other key too, any one will do.
    let o = verify(
        cache.path(),
        &[
            &format!("{h}/acme/other:v1"),
            "--key",
            &key("cosign"),
            "--key",
            &key("other"),
            insecure[0],
            insecure[1],
        ],
    );
    says(&o, 0, "other.pub");

    let o = run(&format!("{h}/acme/moved:v1"));
    says(&o, 1, &format!("names another image ({signed})"));

    let o = run(&format!("{h}/acme/tampered:v1"));
    says(&o, 1, "none of its 1 signature(s) verifies");

    // Several images at once: the worst answer is the exit code; JSON says each.
    let o = verify(
        cache.path(),
        &[
            &format!("{h}/acme/signed:v1"),
            &format!("{h}/acme/unsigned:v1"),
            "--key",
            &key("cosign"),
            "--format",
            "json",
            insecure[0],
            insecure[1],
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["status"], "verified");
    assert_eq!(rows[0]["digest"], signed.as_str());
    assert_eq!(rows[1]["status"], "not verified");
    assert_eq!(rows[1]["verified"], false);
}

#[test]
fn an_index_is_verified_by_its_own_digest() {
    let reg = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let h = &reg.host;
    let amd = reg.image("acme/multi", "amd64", "amd");
    let arm = reg.image("acme/multi", "arm64", "arm");
    let index = reg.index("acme/multi", "v1", &[&amd, &arm]);
    // Only a child is signed: cosign signs the index, and so the index is what must be.
    reg.sign("acme/multi", &amd, "cosign", &[]);
    let image = format!("{h}/acme/multi:v1");
    let args = [
        image.as_str(),
        "--key",
        &key("cosign"),
        "--allow-insecure-registry",
        h,
    ];
    let o = verify(cache.path(), &args);
    says(&o, 1, &index);
    reg.sign("acme/multi", &index, "cosign", &[]);
    let o = verify(cache.path(), &args);
    says(&o, 0, &format!("verified ({index})"));
}

#[test]
fn annotations_other_algorithms_and_a_signature_repository() {
    let reg = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let h = &reg.host;
    let insecure = ["--allow-insecure-registry", h.as_str()];
    let app = reg.image("acme/app", "v1", "app");
    reg.sign("acme/app", &app, "cosign", &[("env", "prod")]);
    let image = format!("{h}/acme/app:v1");
    let cosign = key("cosign");
    let with = |extra: &[&str]| {
        let mut args = vec![image.as_str(), "--key", cosign.as_str()];
        args.extend(extra);
        args.extend(insecure);
        verify(cache.path(), &args)
    };
    assert_eq!(with(&["-a", "env=prod"]).status.code(), Some(0));
    let o = with(&["-a", "env=dev"]);
    says(&o, 1, "lack the annotations env=dev");
    // Cached: the annotations are judged from the cache the same way.
    let o = with(&["-a", "env=dev", "--offline"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    for (repo, k) in [("acme/ed", "ed25519"), ("acme/rsa", "rsa")] {
        let d = reg.image(repo, "v1", repo);
        reg.sign(repo, &d, k, &[]);
        let r = format!("{h}/{repo}:v1");
        let o = verify(
            cache.path(),
            &[&r, "--key", &key(k), insecure[0], insecure[1]],
        );
        assert_eq!(o.status.code(), Some(0), "{k}: {}", text(&o));
        assert!(text(&o).contains(&format!("({k} ")), "{}", text(&o));
        // And not with the P-256 key.
        let o = verify(
            cache.path(),
            &[&r, "--key", &key("cosign"), insecure[0], insecure[1]],
        );
        assert_eq!(o.status.code(), Some(1), "{k}: {}", text(&o));
    }

    // Signatures kept in another repository (cosign's COSIGN_REPOSITORY).
    let d = reg.image("acme/elsewhere", "v1", "elsewhere");
    let p = payload(&format!("{h}/acme/elsewhere"), &d, &[]);
    reg.attach(
        "acme/signatures",
        &d,
        &[(p.clone(), signature("cosign", &p))],
    );
    let r = format!("{h}/acme/elsewhere:v1");
    let o = verify(
        cache.path(),
        &[&r, "--key", &key("cosign"), insecure[0], insecure[1]],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let repo = format!("{h}/acme/signatures");
    let o = verify(
        cache.path(),
        &[
            &r,
            "--key",
            &key("cosign"),
            "--signature-repository",
            &repo,
            insecure[0],
            insecure[1],
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_registry_that_cannot_answer_is_never_a_pass() {
    let reg = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let h = &reg.host;
    let d = reg.image("acme/app", "v1", "app");
    reg.sign("acme/app", &d, "cosign", &[]);
    let pubkey = key("cosign");

    // A missing image: could not check (2), not "unsigned".
    let missing = format!("{h}/acme/nothing:v1");
    let o = verify(
        cache.path(),
        &[&missing, "--key", &pubkey, "--allow-insecure-registry", h],
    );
    says(&o, 2, "could not check");
    says(&o, 2, "does not exist");

    // HTTPS unless the registry is listed as insecure: this one speaks plain HTTP.
    let image = format!("{h}/acme/app:v1");
    let o = verify(cache.path(), &[&image, "--key", &pubkey]);
    says(&o, 2, "--allow-insecure-registry");

    // Online once fills the cache; then offline answers from it.
    let online = [
        image.as_str(),
        "--key",
        pubkey.as_str(),
        "--allow-insecure-registry",
        h.as_str(),
    ];
    assert_eq!(verify(cache.path(), &online).status.code(), Some(0));
    let host = h.clone();
    drop(reg);
    let o = verify(cache.path(), &[&image, "--key", &pubkey, "--offline"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // What the cache does not hold is "not verified offline", not a pass.
    let other = format!("{host}/acme/app:v2");
    let o = verify(cache.path(), &[&other, "--key", &pubkey, "--offline"]);
    says(&o, 2, "not verified offline");
    // The registry is gone: online, the answer is "could not check", within the time limit.
    let o = verify(
        cache.path(),
        &[&other, "--key", &pubkey, "--allow-insecure-registry", &host],
    );
    says(&o, 2, "could not check");
    says(&o, 2, "cannot connect");
}

#[test]
fn bad_input_is_an_error_with_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    let o = verify(cache.path(), &["Bad/Name", "--key", &key("cosign")]);
    says(&o, 2, "not an image reference");
    let o = verify(
        cache.path(),
        &[
            "nginx",
            "--key",
            &keys().join("cosign.key").display().to_string(),
        ],
    );
    says(&o, 2, "this is a private key");
    let o = verify(
        cache.path(),
        &["nginx", "--key", &key("cosign"), "-a", "novalue"],
    );
    says(&o, 2, "expected KEY=VALUE");
}

/// A repository whose tollgate.yaml requires signatures of the registry's `acme/*` images by
/// the TEST-ONLY cosign key (with only the `k8s` pack enabled: a configured signature rule is
/// enforced whatever packs run); `web` runs a signed image and a sidecar that is not, `tools`
/// an image no rule covers.
fn repository(host: &str, signed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::copy(
        keys().join("cosign.pub"),
        dir.path().join("keys/cosign.pub"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tollgate.yaml"),
        format!(
            "packs: [k8s]\nimages:\n  insecure_registries: [\"{host}\"]\n  signatures:\n    - match: [\"{host}/acme/*\"]\n      keys: [keys/cosign.pub]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("web.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n        - name: app\n          image: {host}/acme/app@{signed}\n        - name: sidecar\n          image: {host}/acme/sidecar:v1\n        - name: tools\n          image: {host}/other/tools:v1\n"
        ),
    )
    .unwrap();
    dir
}

fn check_json(dir: &Path, cache: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let o = tollgate()
        .env("XDG_CACHE_HOME", cache)
        .current_dir(dir)
        .args(["check", "--format", "json", "--fail-on", "error"])
        .args(extra)
        .arg("web.yaml")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o.status.code(), v)
}

fn signature_findings(v: &serde_json::Value) -> Vec<(String, u64, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| matches!(f["rule_id"].as_str(), Some("IMG007" | "IMG008")))
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn check_requires_the_configured_signatures_on_the_image_line() {
    let reg = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let h = reg.host.clone();
    let signed = reg.image("acme/app", "v1", "app");
    reg.sign("acme/app", &signed, "cosign", &[]);
    reg.image("acme/sidecar", "v1", "sidecar");
    let repo = repository(&h, &signed);

    let (code, v) = check_json(repo.path(), cache.path(), &[]);
    assert_eq!(code, Some(1), "{v:#}");
    let found = signature_findings(&v);
    // Only the unsigned sidecar (line 15): the signed app passes, tools is not covered.
    assert_eq!(found.len(), 1, "{found:?}");
    let (rule, line, message) = &found[0];
    assert_eq!((rule.as_str(), *line), ("IMG007", 15));
    assert!(message.contains("container sidecar image"), "{message}");
    assert!(
        message.contains("images.signatures[0] (tollgate.yaml:5)"),
        "{message}"
    );
    assert!(
        message.contains("key keys/cosign.pub (ecdsa-p256 "),
        "{message}"
    );

    // Offline from the cache the first run filled: the same verdict.
    let (code, v) = check_json(repo.path(), cache.path(), &["--offline"]);
    assert_eq!(code, Some(1));
    let offline = signature_findings(&v);
    assert_eq!(offline.len(), 1, "{offline:?}");
    // The sidecar was never verified, so offline it is "not verified offline" (IMG008);
    // the app's verification came from the cache.
    assert_eq!((offline[0].0.as_str(), offline[0].1), ("IMG008", 15));
    assert!(
        offline[0].2.contains("not verified offline"),
        "{}",
        offline[0].2
    );

    // The registry down, an empty cache: IMG008 for both covered images, never a pass.
    drop(reg);
    let fresh = tempfile::tempdir().unwrap();
    let (code, v) = check_json(repo.path(), fresh.path(), &[]);
    assert_eq!(code, Some(1), "{v:#}");
    let down = signature_findings(&v);
    assert_eq!(
        down.iter()
            .map(|(r, l, _)| (r.as_str(), *l))
            .collect::<Vec<_>>(),
        vec![("IMG008", 13), ("IMG008", 15)],
        "{down:?}"
    );
    assert!(down[0].2.contains("could not be checked"), "{}", down[0].2);
}

#[test]
fn the_webhook_review_gives_the_same_verdict_as_check() {
    let reg = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let h = reg.host.clone();
    let signed = reg.image("acme/app", "v1", "app");
    reg.sign("acme/app", &signed, "cosign", &[]);
    reg.image("acme/sidecar", "v1", "sidecar");
    let repo = repository(&h, &signed);
    let object: serde_json::Value = {
        // The manifest `check` read, as the API server sends it (JSON).
        let yaml = std::fs::read_to_string(repo.path().join("web.yaml")).unwrap();
        let image_of = |name: &str| {
            yaml.lines()
                .skip_while(|l| !l.contains(&format!("name: {name}")))
                .nth(1)
                .unwrap()
                .trim()
                .trim_start_matches("image: ")
                .to_owned()
        };
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
              "spec": {"containers": [
                {"name": "app", "image": image_of("app")},
                {"name": "sidecar", "image": image_of("sidecar")},
                {"name": "tools", "image": image_of("tools")}]}}}})
    };
    let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u1", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
          "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
          "namespace": "shop", "operation": "CREATE", "userInfo": {"username": "flux"}, "object": object}});
    std::fs::write(repo.path().join("review.json"), review.to_string()).unwrap();
    let o = tollgate()
        .env("XDG_CACHE_HOME", cache.path())
        .current_dir(repo.path())
        .args(["webhook", "review", "review.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let answer: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("IMG007") && message.contains("sidecar"),
        "{message}"
    );
    assert!(
        !message.contains("container app "),
        "the signed image passes: {message}"
    );
}

#[test]
fn kyverno_verify_images_is_judged_by_the_same_verifier_in_check_and_admission() {
    let reg = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let h = reg.host.clone();
    let signed = reg.image("acme/app", "v1", "app");
    reg.sign("acme/app", &signed, "cosign", &[]);
    reg.image("acme/sidecar", "v1", "sidecar");
    let dir = tempfile::tempdir().unwrap();
    let pem: String = std::fs::read_to_string(keys().join("cosign.pub"))
        .unwrap()
        .lines()
        .map(|l| format!("                      {l}\n"))
        .collect();
    std::fs::write(
        dir.path().join("policy.yaml"),
        format!("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: signed-images\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: acme-signed\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      verifyImages:\n        - imageReferences: [\"{h}/acme/*\"]\n          mutateDigest: false\n          verifyDigest: false\n          attestors:\n            - entries:\n                - keys:\n                    publicKeys: |-\n{pem}                    rekor: {{ignoreTlog: true}}\n"),
    )
    .unwrap();
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"containers": [{"name": "app", "image": format!("{h}/acme/app:v1")}, {"name": "sidecar", "image": format!("{h}/acme/sidecar:v1")}]}});
    std::fs::write(dir.path().join("pod.json"), pod.to_string()).unwrap();
    let o = tollgate()
        .env("XDG_CACHE_HOME", cache.path())
        .current_dir(dir.path())
        .args([
            "check",
            "--format",
            "json",
            "--policy",
            "policy.yaml",
            "--allow-insecure-registry",
            &h,
            "pod.json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{v:#}");
    assert_eq!(findings[0]["rule_id"], "signed-images/acme-signed");
    assert_eq!(findings[0]["field_path"], "spec.containers[1].image");
    let message = findings[0]["message"].as_str().unwrap();
    assert!(message.contains(&format!("failed to verify image {h}/acme/sidecar:v1: .attestors[0].entries[0].keys: it has no cosign signature")), "{message}");

    let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u2", "kind": {"group": "", "version": "v1", "kind": "Pod"},
          "resource": {"group": "", "version": "v1", "resource": "pods"},
          "namespace": "shop", "operation": "CREATE", "userInfo": {"username": "flux"}, "object": pod}});
    std::fs::write(dir.path().join("review.json"), review.to_string()).unwrap();
    let o = tollgate()
        .env("XDG_CACHE_HOME", cache.path())
        .current_dir(dir.path())
        .args([
            "webhook",
            "review",
            "review.json",
            "--policy",
            "policy.yaml",
            "--allow-insecure-registry",
            &h,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let answer: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let status = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(
        status.contains("signed-images/acme-signed") && status.contains("sidecar"),
        "{status}"
    );
}

#[test]
fn a_registry_that_accepts_and_never_answers_is_cut_off() {
    // A server that takes the connection and sends nothing: the call's own time limit (10 s)
    // ends it, and the answer is "could not check", not a hang and not a pass.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(4) {
            open.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(15));
    });
    let cache = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let image = format!("{host}/acme/app:v1");
    let o = verify_insecure(cache.path(), &image, "cosign", &host);
    says(&o, 2, "could not check");
    says(&o, 2, "no answer within 10 seconds");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(14),
        "{:?}",
        started.elapsed()
    );
    drop(held);
}

#[test]
fn an_oversized_answer_is_refused_not_read() {
    // A "registry" that answers every request with a 5 MiB manifest: over the 4 MiB limit, the
    // read stops there and the image could not be checked.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = s.read(&mut request);
            let body = vec![b' '; 5 << 20];
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let image = format!("{host}/acme/app:v1");
    let o = verify_insecure(cache.path(), &image, "cosign", &host);
    says(&o, 2, "could not check");
    says(&o, 2, "larger than 4194304 bytes");
}

#[test]
fn https_registries_are_verified_against_the_system_roots_or_ssl_cert_file() {
    // A registry served over TLS with a certificate of a private CA (made by `tollgate
    // webhook certs`): HTTPS is the default, the CA is trusted only when SSL_CERT_FILE names
    // it, and no --allow-insecure-registry is needed.
    let certs = tempfile::tempdir().unwrap();
    let made = tollgate()
        .args([
            "webhook",
            "certs",
            "--service",
            "registry",
            "--namespace",
            "test",
            "--ip",
            "127.0.0.1",
            "--out",
        ])
        .arg(certs.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let reg = Registry::start_tls(certs.path());
    let d = reg.image("acme/app", "v1", "app");
    reg.sign("acme/app", &d, "cosign", &[]);
    let cache = tempfile::tempdir().unwrap();
    let image = format!("{}/acme/app:v1", reg.host);
    // The private CA is not among the built-in roots: the handshake is refused.
    let o = verify(cache.path(), &[&image, "--key", &key("cosign")]);
    says(&o, 2, "could not check");
    says(&o, 2, "TLS");
    let o = tollgate()
        .env("XDG_CACHE_HOME", cache.path())
        .env("SSL_CERT_FILE", certs.path().join("ca.crt"))
        .args(["images", "verify", &image, "--key", &key("cosign")])
        .output()
        .unwrap();
    says(&o, 0, &format!("verified ({d})"));
}

#[test]
fn images_verify_reads_the_insecure_registries_of_tollgate_yaml() {
    // The registry speaks plain HTTP; tollgate.yaml lists it, so no flag is needed.
    let reg = Registry::start();
    let d = reg.image("acme/app", "v1", "app");
    reg.sign("acme/app", &d, "cosign", &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tollgate.yaml"),
        format!("images:\n  insecure_registries: [\"{}\"]\n", reg.host),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let o = tollgate()
        .env("XDG_CACHE_HOME", cache.path())
        .current_dir(dir.path())
        .args([
            "images",
            "verify",
            &format!("{}/acme/app:v1", reg.host),
            "--key",
            &key("cosign"),
        ])
        .output()
        .unwrap();
    says(&o, 0, &format!("verified ({d})"));
}
