//! The signature verifier against the in-memory registry: what it asks (the bearer-token
//! challenge answered once per repository, nothing when the cache knows), what it believes
//! (a payload naming the digest, the right key, the annotations), and what offline means.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use support::{payload, FakeRegistry, HOST};
use tollgate_core::image::ImageRef;
use tollgate_core::signature::{Access, Outcome, PublicKey, Requirement, Verifier};

fn key(name: &str) -> PublicKey {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../fixtures/images/keys/{name}.pub"));
    PublicKey::from_pem(&std::fs::read_to_string(path).unwrap(), name).unwrap()
}

fn verifier(fake: &Arc<FakeRegistry>, cache: Option<&std::path::Path>) -> Verifier {
    Verifier::new(&Access {
        transport: Some(fake.clone()),
        insecure: vec![HOST.into()],
        cache_dir: cache.map(std::path::Path::to_path_buf),
    })
}

fn image(reference: &str) -> ImageRef {
    ImageRef::parse(&format!("{HOST}/{reference}")).unwrap()
}

#[test]
fn the_token_challenge_is_answered_once_and_the_cache_asks_nothing() {
    let fake = Arc::new(FakeRegistry {
        token: Some("t0k3n".into()),
        ..FakeRegistry::default()
    });
    let d = fake.image("acme/app", "v1", "app");
    fake.sign("acme/app", &d, "null");
    let cache = tempfile::tempdir().unwrap();
    let keys = [key("cosign")];
    let req = Requirement {
        keys: &keys,
        annotations: &[],
        repository: None,
    };
    let v = verifier(&fake, Some(cache.path()));
    assert_eq!(
        v.verify(&image("acme/app:v1"), req),
        Outcome::Verified {
            digest: d.clone(),
            key: 0
        }
    );
    // One token for the repository, reused for the tag, the signature manifest and its blob.
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 1);
    // The same question again, in another process (a new verifier on the same cache): the
    // tag's digest and the verification are cached, so the registry is not asked at all.
    let before = fake.requests.load(Ordering::SeqCst);
    let again = verifier(&fake, Some(cache.path()));
    assert!(matches!(
        again.verify(&image("acme/app:v1"), req),
        Outcome::Verified { .. }
    ));
    assert_eq!(fake.requests.load(Ordering::SeqCst), before);
}

#[test]
fn only_a_payload_naming_the_digest_signed_by_a_given_key_counts() {
    let fake = Arc::new(FakeRegistry::default());
    let d = fake.image("acme/app", "v1", "app");
    fake.sign("acme/app", &d, r#"{"env":"prod"}"#);
    let v = verifier(&fake, None);
    let cosign = [key("cosign")];
    let other = [key("other")];
    let with = |keys: &[PublicKey], annotations: &[(String, String)]| {
        v.verify(
            &image("acme/app:v1"),
            Requirement {
                keys,
                annotations,
                repository: None,
            },
        )
    };
    assert!(matches!(with(&cosign, &[]), Outcome::Verified { .. }));
    let prod = [("env".to_owned(), "prod".to_owned())];
    assert!(matches!(with(&cosign, &prod), Outcome::Verified { .. }));
    // Another value of the annotation: signed, but not as required.
    let dev = [("env".to_owned(), "dev".to_owned())];
    match with(&cosign, &dev) {
        Outcome::Unverified { reason, .. } => {
            assert!(reason.contains("lack the annotations env=dev"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    // Another key: the signature does not verify.
    match with(&other, &[]) {
        Outcome::Unverified { reason, .. } => {
            assert!(reason.contains("none of its 1 signature(s)"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    // Any of several keys will do, and the answer says which.
    let both = [key("other"), key("cosign")];
    assert!(matches!(with(&both, &[]), Outcome::Verified { key: 1, .. }));

    // A signature whose payload was changed after signing; one of another type.
    let t = fake.image("acme/tampered", "v1", "tampered");
    let good = payload(&t, "null");
    fake.attach("acme/tampered", &t, &good, None);
    // The good payload's signature, kept, over the payload with one field changed.
    let signature_of_good = {
        let manifest = fake.objects.lock().unwrap()[&format!(
            "/v2/acme/tampered/manifests/{}.sig",
            t.replacen(':', "-", 1)
        )]
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        v["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let bad = good.replace(r#""docker-reference":"x""#, r#""docker-reference":"y""#);
    fake.attach("acme/tampered", &t, &bad, Some(signature_of_good));
    match v.verify(
        &image("acme/tampered:v1"),
        Requirement {
            keys: &cosign,
            annotations: &[],
            repository: None,
        },
    ) {
        Outcome::Unverified { reason, .. } => {
            assert!(reason.contains("none of its 1 signature(s)"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    let w = fake.image("acme/wrongtype", "v1", "wrongtype");
    let atomic = payload(&w, "null").replace(
        "cosign container image signature",
        "atomic container signature",
    );
    fake.attach("acme/wrongtype", &w, &atomic, None);
    match v.verify(
        &image("acme/wrongtype:v1"),
        Requirement {
            keys: &cosign,
            annotations: &[],
            repository: None,
        },
    ) {
        Outcome::Unverified { reason, .. } => assert!(
            reason.contains("not `cosign container image signature`"),
            "{reason}"
        ),
        o => panic!("{o:?}"),
    }
}

#[test]
fn offline_answers_from_the_cache_and_nothing_else() {
    let fake = Arc::new(FakeRegistry::default());
    let d = fake.image("acme/app", "v1", "app");
    fake.sign("acme/app", &d, "null");
    let cache = tempfile::tempdir().unwrap();
    let keys = [key("cosign")];
    let req = Requirement {
        keys: &keys,
        annotations: &[],
        repository: None,
    };
    assert!(matches!(
        verifier(&fake, Some(cache.path())).verify(&image("acme/app:v1"), req),
        Outcome::Verified { .. }
    ));
    let offline = Verifier::new(&Access {
        transport: None,
        insecure: Vec::new(),
        cache_dir: Some(cache.path().to_path_buf()),
    });
    assert!(!offline.online());
    assert!(matches!(
        offline.verify(&image("acme/app:v1"), req),
        Outcome::Verified { .. }
    ));
    assert!(matches!(
        offline.verify(&image(&format!("acme/app@{d}")), req),
        Outcome::Verified { .. }
    ));
    // Not in the cache: a tag never resolved, a key never used.
    assert!(matches!(
        offline.verify(&image("acme/app:v2"), req),
        Outcome::Offline(_)
    ));
    let other = [key("other")];
    let o = offline.verify(
        &image("acme/app:v1"),
        Requirement {
            keys: &other,
            ..req
        },
    );
    assert!(
        matches!(o, Outcome::Offline(ref m) if m.contains("no cached verification")),
        "{o:?}"
    );
}

#[test]
fn a_sigstore_bundle_attached_as_a_referrer_is_named_in_the_reason() {
    // Newer cosign can attach its signature as a Sigstore bundle through the OCI referrers
    // API instead of the `.sig` tag; it is not verified yet, and the answer says so instead
    // of a bare "no signature".
    let fake = Arc::new(FakeRegistry::default());
    let d = fake.image("acme/bundled", "v1", "bundled");
    let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}]}"#;
    fake.objects.lock().unwrap().insert(
        format!("/v2/acme/bundled/referrers/{d}"),
        index.as_bytes().to_vec(),
    );
    fake.image("acme/plain", "v1", "plain");
    let keys = [key("cosign")];
    let req = Requirement {
        keys: &keys,
        annotations: &[],
        repository: None,
    };
    let v = verifier(&fake, None);
    match v.verify(&image("acme/bundled:v1"), req) {
        Outcome::Unverified { reason, .. } => {
            assert!(reason.contains("a Sigstore bundle is attached to it as an OCI referrer, which is not verified yet"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    match v.verify(&image("acme/plain:v1"), req) {
        Outcome::Unverified { reason, .. } => assert!(!reason.contains("Sigstore"), "{reason}"),
        o => panic!("{o:?}"),
    }
}

#[test]
fn a_private_repository_is_read_with_the_auth_file_credentials() {
    // The token service wants the user's password (base64 "ci:s3cret" = Y2k6czNjcmV0): with
    // REGISTRY_AUTH_FILE naming it the pull works; without, the answer is "could not check"
    // with what to do, never "unsigned". (nextest runs each test in its own process, so the
    // variable is this test's alone.)
    let fake = Arc::new(FakeRegistry {
        token: Some("t0k3n".into()),
        basic: Some("Y2k6czNjcmV0".into()),
        ..FakeRegistry::default()
    });
    let d = fake.image("acme/private", "v1", "private");
    fake.sign("acme/private", &d, "null");
    let keys = [key("cosign")];
    let req = Requirement {
        keys: &keys,
        annotations: &[],
        repository: None,
    };
    std::env::set_var("HOME", "/nonexistent");
    std::env::remove_var("DOCKER_CONFIG");
    std::env::remove_var("REGISTRY_AUTH_FILE");
    match verifier(&fake, None).verify(&image("acme/private:v1"), req) {
        Outcome::Unchecked(reason) => assert!(reason.contains("the token service"), "{reason}"),
        o => panic!("{o:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{HOST}":{{"username":"ci","password":"s3cret"}}}}}}"#),
    )
    .unwrap();
    std::env::set_var("REGISTRY_AUTH_FILE", &auth);
    assert!(matches!(
        verifier(&fake, None).verify(&image("acme/private:v1"), req),
        Outcome::Verified { .. }
    ));
}
