//! The `tollgate sops` contract: golden files made by real sops decrypt to what sops printed,
//! with sops's exit codes; bad input fails cleanly; writes are atomic and minimal.

mod common;

use common::*;
use std::fs;

fn decrypt_with(file: &str, keys: &[u8]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("keys.txt");
    let text: String = keys
        .iter()
        .map(|k| fs::read_to_string(key(*k)).unwrap())
        .collect();
    fs::write(&ring, text).unwrap();
    run(tollgate()
        .args(["sops", "decrypt"])
        .arg(fixtures().join(file))
        .env("SOPS_AGE_KEY_FILE", &ring))
}

#[test]
fn golden_files_decrypt_exactly_as_sops_printed_them() {
    let expected = fixtures().join("expected");
    let mut checked = 0;
    for entry in fs::read_dir(&expected).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(file) = name.strip_suffix(".out") else {
            continue;
        };
        if file.ends_with(".ignore-mac")
            || file.starts_with("sample.enc.bin")
            || file.contains("shamir")
            || file.contains("ssh")
        {
            continue;
        }
        let out = ok(decrypt_with(file, &[1]));
        assert_eq!(
            String::from_utf8_lossy(&out),
            fs::read_to_string(expected.join(&name)).unwrap(),
            "{file}"
        );
        checked += 1;
    }
    assert!(checked >= 18, "only {checked} golden files checked");
}

#[test]
fn golden_shamir_ssh_and_binary() {
    let expected = |f: &str| fs::read(fixtures().join("expected").join(f)).unwrap();
    for pair in [[1, 2], [1, 3], [2, 3]] {
        assert_eq!(
            ok(decrypt_with("k8s-multidoc.shamir-2of3.enc.yaml", &pair)),
            expected("k8s-multidoc.shamir-2of3.enc.yaml.out")
        );
    }
    assert_eq!(
        code(&decrypt_with("k8s-single.shamir-2of3.enc.yaml", &[2])),
        128
    );
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(fixtures().join("small.ssh-recipient.enc.yaml"))
        .env(
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            fixtures().join("TEST-ONLY-ssh-ed25519"),
        ));
    assert_eq!(ok(o), expected("small.ssh-recipient.enc.yaml.out"));
    let o = run(tollgate()
        .args([
            "sops",
            "decrypt",
            "--input-type",
            "json",
            "--output-type",
            "binary",
        ])
        .arg(fixtures().join("sample.enc.bin.json"))
        .env("SOPS_AGE_KEY_FILE", key(1)));
    assert_eq!(
        ok(o),
        fs::read(fixtures().join("sample.plain.bin")).unwrap()
    );
}

#[test]
fn tampered_and_foreign_files_give_sops_exit_codes() {
    for (file, want) in [
        ("k8s-multidoc.TAMPERED-unencrypted-value.enc.yaml", 51),
        ("k8s-multidoc.TAMPERED-renamed-key.enc.yaml", 25),
        ("k8s-multidoc.TAMPERED-alias-to-encrypted.enc.yaml", 25),
        ("k8s-multidoc.TAMPERED-lastmodified-offset.enc.yaml", 51),
        ("k8s-single-nocomments.rops-encrypted.yaml", 1),
        ("k8s-multidoc.plain.yaml", 1),
    ] {
        let o = decrypt_with(file, &[1]);
        assert_eq!(code(&o), want, "{file}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{file} printed plaintext on failure");
        assert!(
            !stderr(&o).contains("s3cr3t"),
            "{file}: secret in the error"
        );
    }
    let o = run(tollgate()
        .args(["sops", "decrypt", "--ignore-mac"])
        .arg(fixtures().join("k8s-multidoc.TAMPERED-unencrypted-value.enc.yaml"))
        .env("SOPS_AGE_KEY_FILE", key(1)));
    assert_eq!(
        ok(o),
        fs::read(
            fixtures()
                .join("expected/k8s-multidoc.TAMPERED-unencrypted-value.enc.yaml.ignore-mac.out")
        )
        .unwrap()
    );
}

#[test]
fn wrong_key_and_no_key_exit_128_naming_where_we_looked() {
    let o = decrypt_with("k8s-single.enc.yaml", &[2]);
    assert_eq!(code(&o), 128);
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(fixtures().join("k8s-single.enc.yaml")));
    assert_eq!(code(&o), 128);
    let e = stderr(&o);
    assert!(e.contains(R1) && e.contains("keys.txt"), "{e}");
    assert!(e.contains("SOPS_AGE_KEY_FILE"), "no remedy in: {e}");
}

fn encrypt_text(dir: &std::path::Path, name: &str, content: &[u8]) -> std::process::Output {
    let p = dir.join(name);
    fs::write(&p, content).unwrap();
    run(tollgate().args(["sops", "encrypt", "--age", R1]).arg(&p))
}

#[test]
fn bad_input_fails_with_sops_codes_and_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("a: {}1{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    let cases: Vec<(&str, Vec<u8>, i32, &str)> = vec![
        ("empty.yaml", b"".to_vec(), 92, "empty"),
        ("list.yaml", b"- a\n- b\n".to_vec(), 2, "mapping"),
        ("dup.yaml", b"a: 1\nb: 2\na: 3\n".to_vec(), 2, "line 3"),
        ("utf8.yaml", b"a: \xff\xfe\n".to_vec(), 2, "UTF-8"),
        ("intkey.yaml", b"1: x\n".to_vec(), 23, "string"),
        ("broken.yaml", b"a: [1, 2\nb: 3\n".to_vec(), 2, "line"),
        ("deep.yaml", deep.into_bytes(), 2, "nesting"),
        ("bomb.yaml", bomb.as_bytes().to_vec(), 2, "alias"),
        (
            "enc.yaml",
            fs::read(fixtures().join("k8s-single.enc.yaml")).unwrap(),
            203,
            "already encrypted",
        ),
        ("top.json", b"[1, 2]".to_vec(), 2, "object"),
    ];
    for (name, content, want, says) in cases {
        let o = encrypt_text(dir.path(), name, &content);
        assert_eq!(code(&o), want, "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(says),
            "{name}: `{says}` not in {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains(name),
            "{name}: file not named in {}",
            stderr(&o)
        );
    }
}

#[test]
fn truncated_value_exits_25_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.yaml");
    let text = fs::read_to_string(fixtures().join("k8s-single.enc.yaml")).unwrap();
    let cut = text.replacen(",type:str]", "", 1);
    fs::write(&p, &cut).unwrap();
    let o = run(tollgate()
        .args(["sops", "decrypt", "-i"])
        .arg(&p)
        .env("SOPS_AGE_KEY_FILE", key(1)));
    assert_eq!(code(&o), 25, "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&p).unwrap(), cut);
}

#[test]
fn big_file_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.yaml");
    let mut s = String::with_capacity(101 << 20);
    let mut i = 0;
    while s.len() < 100 << 20 {
        s.push_str(&format!("key{i}: {}\n", "v".repeat(1000)));
        i += 1;
    }
    fs::write(&p, &s).unwrap();
    let enc = dir.path().join("big.enc.yaml");
    ok(run(tollgate()
        .args(["sops", "encrypt", "--age", R1, "--output"])
        .arg(&enc)
        .arg(&p)));
    let out = ok(run(tollgate()
        .args(["sops", "decrypt"])
        .arg(&enc)
        .env("SOPS_AGE_KEY_FILE", key(1))));
    assert!(i > 100_000);
    assert!(
        out == s.as_bytes(),
        "a flat 100 MB file must round-trip byte for byte"
    );
}

#[test]
fn in_place_round_trip_and_private_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.yaml");
    fs::copy(fixtures().join("k8s-multidoc.plain.yaml"), &p).unwrap();
    ok(run(tollgate()
        .args(["sops", "encrypt", "-i", "--age", R1])
        .arg(&p)));
    let enc = fs::read_to_string(&p).unwrap();
    assert!(enc.contains("ENC[AES256_GCM") && !enc.contains("s3cr3t"));
    let out = dir.path().join("plain.yaml");
    ok(run(tollgate()
        .args(["sops", "decrypt", "--output"])
        .arg(&out)
        .arg(&p)
        .env("SOPS_AGE_KEY_FILE", key(1))));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        fs::read(&out).unwrap(),
        fs::read(fixtures().join("k8s-multidoc.sops-decrypted.yaml")).unwrap()
    );
    let o = run(tollgate()
        .args(["sops", "decrypt", "-i", "--output", "x"])
        .arg(&p));
    assert_eq!(code(&o), 8);
    assert_eq!(fs::read_to_string(&p).unwrap(), enc);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        2,
        "a temporary file was left behind"
    );
}

fn enc_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("ENC[") && !l.contains("mac:"))
        .collect()
}

#[test]
fn set_unset_rotate_and_edit_keep_unchanged_ciphertext() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.yaml");
    fs::copy(fixtures().join("k8s-single.enc.yaml"), &p).unwrap();
    let before = fs::read_to_string(&p).unwrap();
    let t = || {
        let mut c = tollgate();
        c.env("SOPS_AGE_KEY_FILE", key(1));
        c
    };
    ok(run(t()
        .args(["sops", "set"])
        .arg(&p)
        .args([r#"["stringData"]["password"]"#, r#""new-pass""#])));
    let after = fs::read_to_string(&p).unwrap();
    let (b, a) = (enc_lines(&before), enc_lines(&after));
    assert_eq!(b.len(), a.len());
    assert_eq!(
        b.iter().zip(&a).filter(|(x, y)| x != y).count(),
        1,
        "only the password line may change"
    );
    let got = ok(run(t()
        .args([
            "sops",
            "decrypt",
            "--extract",
            r#"["stringData"]["password"]"#,
        ])
        .arg(&p)));
    assert_eq!(got, b"new-pass");
    ok(run(t()
        .args(["sops", "unset"])
        .arg(&p)
        .arg(r#"["stringData"]["password"]"#)));
    assert_eq!(
        code(&run(t()
            .args(["sops", "unset"])
            .arg(&p)
            .arg(r#"["stringData"]["password"]"#))),
        1
    );
    let before_rotate = fs::read_to_string(&p).unwrap();
    ok(run(t().args(["sops", "rotate", "-i"]).arg(&p)));
    let rotated = fs::read_to_string(&p).unwrap();
    let iv = |l: &str| {
        l.split(",iv:")
            .nth(1)
            .map(|r| r.split(',').next().unwrap_or("").to_owned())
    };
    let ivs_before: Vec<_> = enc_lines(&before_rotate).into_iter().map(iv).collect();
    let ivs_after: Vec<_> = enc_lines(&rotated).into_iter().map(iv).collect();
    assert_eq!(ivs_before, ivs_after, "rotate keeps IVs");
    assert_ne!(
        enc_lines(&before_rotate),
        enc_lines(&rotated),
        "rotate changes the data key"
    );
    // An editor that changes nothing: exit 200, file untouched.
    let o = run(t()
        .args(["sops", "edit"])
        .arg(&p)
        .env("SOPS_EDITOR", "true"));
    assert_eq!(code(&o), 200, "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&p).unwrap(), rotated);
    let o = run(t()
        .args(["sops", "edit"])
        .arg(&p)
        .env("SOPS_EDITOR", "sed -i s/5432/6543/"));
    ok(o);
    let edited = fs::read_to_string(&p).unwrap();
    assert_eq!(
        enc_lines(&rotated)
            .iter()
            .zip(enc_lines(&edited).iter())
            .filter(|(x, y)| x != y)
            .count(),
        1
    );
}

#[test]
fn updatekeys_dry_run_and_apply_over_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("k8s");
    fs::create_dir_all(&sub).unwrap();
    for name in ["a.yaml", "b.yaml"] {
        fs::copy(fixtures().join("k8s-single.enc.yaml"), sub.join(name)).unwrap();
    }
    fs::write(sub.join("plain.txt"), "not sops").unwrap();
    fs::write(
        dir.path().join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: k8s/.*\\.yaml$\n    age: {R1},{R2}\n"),
    )
    .unwrap();
    let t = || {
        let mut c = tollgate();
        c.env("SOPS_AGE_KEY_FILE", key(1)).current_dir(dir.path());
        c
    };
    let before = fs::read(sub.join("a.yaml")).unwrap();
    let out = String::from_utf8(ok(run(t().args([
        "sops",
        "updatekeys",
        "--recursive",
        "--dry-run",
        "k8s",
    ]))))
    .unwrap();
    assert_eq!(out.matches(&format!("  + {R2}")).count(), 2, "{out}");
    assert!(!out.contains("plain.txt"));
    // The CI form: the same report, and exit 1 because two files drifted.
    let o = run(t().args([
        "sops",
        "updatekeys",
        "--recursive",
        "--dry-run",
        "--check",
        "k8s",
    ]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 file(s) would change"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read(sub.join("a.yaml")).unwrap(),
        before,
        "dry run wrote"
    );
    assert_eq!(
        code(&run(t().args(["sops", "updatekeys", "-r", "k8s"]))),
        1,
        "no -y without a terminal"
    );
    ok(run(t().args(["sops", "updatekeys", "-y", "-r", "k8s"])));
    let mac = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .filter(|l| l.contains("mac:") || l.contains("lastmodified"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let after = fs::read(sub.join("a.yaml")).unwrap();
    assert_eq!(
        mac(&before),
        mac(&after),
        "updatekeys keeps MAC and lastmodified"
    );
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(sub.join("b.yaml"))
        .env("SOPS_AGE_KEY_FILE", key(2)));
    assert_eq!(
        ok(o),
        fs::read(fixtures().join("expected/k8s-single.enc.yaml.out")).unwrap()
    );
    let again =
        String::from_utf8(ok(run(t().args(["sops", "updatekeys", "-y", "-r", "k8s"])))).unwrap();
    assert_eq!(again.matches("already up to date").count(), 2, "{again}");
    // Nothing drifted any more: --check passes.
    ok(run(t().args([
        "sops",
        "updatekeys",
        "-r",
        "--dry-run",
        "--check",
        "k8s",
    ])));
}

#[test]
fn status_and_help() {
    let o = ok(run(tollgate()
        .args(["sops", "status"])
        .arg(fixtures().join("k8s-single.enc.yaml"))));
    assert_eq!(o, b"{\"encrypted\":true}\n");
    let o = ok(run(tollgate()
        .args(["sops", "status"])
        .arg(fixtures().join("k8s-single.plain.yaml"))));
    assert_eq!(o, b"{\"encrypted\":false}\n");
    let help = String::from_utf8(ok(run(tollgate().args(["sops", "encrypt", "--help"])))).unwrap();
    for flag in [
        "--age",
        "--in-place",
        "--output",
        "--encrypted-regex",
        "--mac-only-encrypted",
        "--filename-override",
        "--input-type",
    ] {
        assert!(help.contains(flag), "{flag} undocumented");
    }
}

#[test]
fn identities_come_from_every_place_sops_looks() {
    let file = fixtures().join("k8s-single.enc.yaml");
    let want = fs::read(fixtures().join("expected/k8s-single.enc.yaml.out")).unwrap();
    let key_text = fs::read_to_string(key(1)).unwrap();
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(&file)
        .env("SOPS_AGE_KEY", &key_text));
    assert_eq!(ok(o), want, "SOPS_AGE_KEY");

    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("recipient.txt");
    let cmd = format!(
        "sh -c 'echo \"$SOPS_AGE_RECIPIENT\" > {}; cat {}'",
        seen.display(),
        key(1).display()
    );
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(&file)
        .env("SOPS_AGE_KEY_CMD", cmd));
    assert_eq!(ok(o), want, "SOPS_AGE_KEY_CMD");
    assert_eq!(fs::read_to_string(&seen).unwrap().trim(), R1);

    let xdg = dir.path().join("xdg");
    fs::create_dir_all(xdg.join("sops/age")).unwrap();
    fs::copy(key(1), xdg.join("sops/age/keys.txt")).unwrap();
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(&file)
        .env("XDG_CONFIG_HOME", &xdg));
    assert_eq!(ok(o), want, "$XDG_CONFIG_HOME/sops/age/keys.txt");

    let home = dir.path().join("home");
    fs::create_dir_all(home.join(".config/sops/age")).unwrap();
    fs::copy(key(1), home.join(".config/sops/age/keys.txt")).unwrap();
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(&file)
        .env("HOME", &home));
    assert_eq!(ok(o), want, "~/.config/sops/age/keys.txt");

    let ssh_home = dir.path().join("ssh-home");
    fs::create_dir_all(ssh_home.join(".ssh")).unwrap();
    fs::copy(
        fixtures().join("TEST-ONLY-ssh-ed25519"),
        ssh_home.join(".ssh/id_ed25519"),
    )
    .unwrap();
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(fixtures().join("small.ssh-recipient.enc.yaml"))
        .env("HOME", &ssh_home));
    assert_eq!(
        ok(o),
        fs::read(fixtures().join("expected/small.ssh-recipient.enc.yaml.out")).unwrap(),
        "~/.ssh/id_ed25519"
    );
}

#[test]
fn stdin_filename_override_and_creation_rules() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".sops.yaml"),
        format!(
            "stores:\n  yaml:\n    indent: 2\ncreation_rules:\n  - path_regex: ^prod/\n    encrypted_regex: ^(data|stringData)$\n    age: [{R1}, {R2}]\n  - path_regex: \\.yaml$\n    age: {R3}\n"
        ),
    )
    .unwrap();
    let src = fs::read(fixtures().join("k8s-single.plain.yaml")).unwrap();
    let encrypt = |name: &str| {
        let mut c = tollgate();
        c.args(["sops", "encrypt", "--filename-override", name])
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped());
        let mut child = c
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &src).unwrap();
        String::from_utf8(ok(child.wait_with_output().unwrap())).unwrap()
    };
    let prod = encrypt("prod/db.yaml");
    assert!(
        prod.contains(R1) && prod.contains(R2) && !prod.contains(R3),
        "first matching rule wins"
    );
    assert!(
        prod.contains("\n  name: single\n"),
        "2-space indent from stores.yaml.indent, metadata in clear:\n{prod}"
    );
    assert!(prod.contains("encrypted_regex: ^(data|stringData)$"));
    let other = encrypt("dev/db.yaml");
    assert!(other.contains(R3) && !other.contains(R1));
    let o = run(tollgate()
        .args(["sops", "encrypt", "--filename-override", "x.json"])
        .arg(fixtures().join("sample.plain.json"))
        .current_dir(dir.path()));
    assert_eq!(code(&o), 1, "no rule matches .json: {}", stderr(&o));
    assert!(stderr(&o).contains("no matching creation rules"));
}

#[test]
fn foreign_key_types_survive_updatekeys_and_block_rotate_until_removed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.yaml");
    let text = fs::read_to_string(fixtures().join("k8s-single.enc.yaml")).unwrap();
    // An AWS KMS recipient: tollgate cannot reach KMS, so it keeps the entry verbatim.
    let kms = "    kms:\n        - arn: arn:aws:kms:us-east-1:111122223333:key/0c9e\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: opaque\n          aws_profile: \"\"\n";
    fs::write(
        &p,
        text.replace("    lastmodified:", &format!("{kms}    lastmodified:")),
    )
    .unwrap();
    let t = || {
        let mut c = tollgate();
        c.env("SOPS_AGE_KEY_FILE", key(1)).current_dir(dir.path());
        c
    };
    ok(run(t().args(["sops", "decrypt"]).arg(&p)));
    let o = run(t().args(["sops", "rotate", "-i"]).arg(&p));
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("kms"), "{}", stderr(&o));
    fs::write(
        dir.path().join(".sops.yaml"),
        format!("creation_rules:\n  - age: {R1},{R2}\n"),
    )
    .unwrap();
    ok(run(t().args(["sops", "updatekeys", "-y"]).arg(&p)));
    let after = fs::read_to_string(&p).unwrap();
    assert!(
        after.contains("arn: arn:aws:kms:us-east-1:111122223333:key/0c9e")
            && after.contains("enc: opaque")
            && after.contains(R2),
        "{after}"
    );
    // Adding a KMS key needs AWS: refused, file untouched.
    let o = run(t()
        .args([
            "sops",
            "rotate",
            "-i",
            "--add-kms",
            "arn:aws:kms:us-east-1:1:key/new",
        ])
        .arg(&p));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&p).unwrap(), after);
    // Removing it needs no AWS: with no KMS key left, a new data key wraps for age alone
    // (legacy `-r` form); real sops opens the result with R1's key.
    ok(run(t()
        .args([
            "sops",
            "-r",
            "-i",
            "--rm-kms",
            "arn:aws:kms:us-east-1:111122223333:key/0c9e",
        ])
        .arg(&p)));
    let rotated = fs::read_to_string(&p).unwrap();
    assert!(
        !rotated.contains("kms") && rotated.contains(R1) && rotated.contains(R2),
        "{rotated}"
    );
    let plain = ok(run(t().args(["sops", "decrypt"]).arg(&p)));
    assert_eq!(
        ok(run(sops()
            .env("SOPS_AGE_KEY_FILE", key(1))
            .arg("decrypt")
            .arg(&p))),
        plain
    );
}

#[test]
fn mixed_configurations_encrypt_what_they_can_and_compare_pgp_recipients() {
    // A .sops.yaml with a KMS rule, a rule naming PGP keys beside age, and an age-only rule:
    // the age-only files encrypt; the KMS rule's files are refused naming the rule and the
    // key type (tollgate cannot reach KMS); the PGP rule's files are refused because the
    // keys are not in the (empty) GnuPG keyring, naming the key; recipient drift compares
    // PGP fingerprints without needing any keyring.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: ^cloud/\n    kms: arn:aws:kms:us-east-1:111122223333:key/0c9e\n    age: {R1}\n  - path_regex: ^legacy/\n    pgp: 'FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4, 0123456789abcdef0123456789abcdef01234567'\n    age: {R1}\n  - age: {R1}\n"),
    )
    .unwrap();
    let t = || {
        let mut c = tollgate();
        c.env("SOPS_AGE_KEY_FILE", key(1)).current_dir(d);
        c
    };
    fs::create_dir_all(d.join("legacy")).unwrap();
    fs::create_dir_all(d.join("cloud")).unwrap();
    fs::write(d.join("app.yaml"), "a: secret\n").unwrap();
    fs::write(d.join("cloud/c.yaml"), "a: secret\n").unwrap();
    fs::write(d.join("legacy/old.yaml"), "a: secret\n").unwrap();
    ok(run(t().args(["sops", "encrypt", "-i", "app.yaml"])));
    let o = run(t().args(["sops", "encrypt", "-i", "cloud/c.yaml"]));
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(e.contains("creation_rules[0]") && e.contains("kms"), "{e}");
    assert_eq!(
        fs::read_to_string(d.join("cloud/c.yaml")).unwrap(),
        "a: secret\n"
    );
    let o = run(t().args(["sops", "encrypt", "-i", "legacy/old.yaml"]));
    assert_ne!(code(&o), 0);
    let e = stderr(&o);
    assert!(
        e.contains("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4") && e.contains("GnuPG keyring"),
        "{e}"
    );
    assert_eq!(
        fs::read_to_string(d.join("legacy/old.yaml")).unwrap(),
        "a: secret\n"
    );

    // A legacy file sops wrote for R1 and one PGP key (the second fingerprint, lowercase in
    // the config, uppercase in the metadata): the rule names two PGP keys, so one is missing.
    let text = fs::read_to_string(fixtures().join("k8s-single.enc.yaml")).unwrap();
    let pgp = "    pgp:\n        - created_at: \"2024-01-01T00:00:00Z\"\n          enc: opaque\n          fp: 0123456789ABCDEF0123456789ABCDEF01234567\n";
    fs::write(
        d.join("legacy/old.yaml"),
        text.replace("    lastmodified:", &format!("{pgp}    lastmodified:")),
    )
    .unwrap();
    let o = run(t().args([
        "sops",
        "updatekeys",
        "--dry-run",
        "--check",
        "legacy/old.yaml",
    ]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(
        out.contains("pgp:FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"),
        "{out}"
    );
    assert!(
        !out.contains("pgp:0123456789ABCDEF"),
        "the present key is not drift: {out}"
    );
    // Applying it needs the added key's public half, which the keyring lacks: refused, the
    // file untouched.
    let before = fs::read(d.join("legacy/old.yaml")).unwrap();
    let o = run(t().args(["sops", "updatekeys", "-y", "legacy/old.yaml"]));
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("FBC7B9E2"), "{}", stderr(&o));
    assert_eq!(fs::read(d.join("legacy/old.yaml")).unwrap(), before);
    // The audit says the same from the metadata alone (SOPS004).
    let o = run(t().args(["secrets", "audit", "--format", "short", "legacy"]));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("SOPS004") && out.contains("pgp:FBC7B9E2"),
        "{out}"
    );
}

#[test]
fn secrets_never_reach_error_messages() {
    let dir = tempfile::tempdir().unwrap();
    let canary = "CANARY-s3cr3t-7f3a";
    for (name, content) in [
        ("tag.yaml", format!("a: !!int {canary}\n")),
        ("ts.yaml", format!("a: !!timestamp {canary}\n")),
        ("dup.yaml", format!("a: {canary}\na: {canary}\n")),
        ("broken.yaml", format!("a: \"{canary}\nb: [\n")),
        ("broken.json", format!("{{\"a\": \"{canary}\", }}")),
        ("broken.env", format!("{canary}\n")),
    ] {
        let o = encrypt_text(dir.path(), name, content.as_bytes());
        assert_ne!(code(&o), 0, "{name}");
        assert!(
            !stderr(&o).contains(canary),
            "{name} leaked: {}",
            stderr(&o)
        );
    }
}

#[test]
fn missing_files_and_rotate_dry_run_over_a_directory() {
    let o = run(tollgate().args(["sops", "decrypt", "/nonexistent/secret.yaml"]));
    assert_eq!(code(&o), 100);
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.yaml", "b.yaml"] {
        fs::copy(
            fixtures().join("k8s-single.enc.yaml"),
            dir.path().join(name),
        )
        .unwrap();
    }
    let before = fs::read(dir.path().join("a.yaml")).unwrap();
    let out = ok(run(tollgate()
        .args([
            "sops",
            "rotate",
            "--recursive",
            "--dry-run",
            "--add-age",
            R2,
            "--rm-age",
            R1,
        ])
        .arg(dir.path())
        .env("SOPS_AGE_KEY_FILE", key(1))));
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.matches(&format!("  + {R2}")).count(), 2, "{out}");
    assert_eq!(out.matches(&format!("  - {R1}")).count(), 2, "{out}");
    assert_eq!(fs::read(dir.path().join("a.yaml")).unwrap(), before);
    ok(run(tollgate()
        .args(["sops", "rotate", "-r", "--add-age", R2, "--rm-age", R1])
        .arg(dir.path())
        .env("SOPS_AGE_KEY_FILE", key(1))));
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(dir.path().join("b.yaml"))
        .env("SOPS_AGE_KEY_FILE", key(2)));
    assert_eq!(
        ok(o),
        fs::read(fixtures().join("expected/k8s-single.enc.yaml.out")).unwrap()
    );
    assert_eq!(
        code(&run(tollgate()
            .args(["sops", "decrypt"])
            .arg(dir.path().join("b.yaml"))
            .env("SOPS_AGE_KEY_FILE", key(1)))),
        128
    );
}

/// An executable editor script that replaces the file with `content`.
fn editor_writing(dir: &std::path::Path, content: &str) -> std::path::PathBuf {
    let script = dir.join(format!("editor-{}.sh", content.len()));
    fs::write(
        &script,
        format!("#!/bin/sh\ncat > \"$1\" <<'TOLLGATE_EOF'\n{content}TOLLGATE_EOF\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

#[test]
fn edit_creates_new_files_from_rules_and_refuses_invalid_edits() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".sops.yaml"), format!("creation_rules:\n  - path_regex: secrets/\n    encrypted_regex: ^stringData$\n    age: {R1}\n")).unwrap();
    fs::create_dir_all(dir.path().join("secrets")).unwrap();
    let new = dir.path().join("secrets/new.yaml");
    let editor = editor_writing(dir.path(), "kind: Secret\nstringData:\n  token: t0k3n\n");
    let t = |editor: &std::path::Path| {
        let mut c = tollgate();
        c.env("SOPS_AGE_KEY_FILE", key(1))
            .env("SOPS_EDITOR", editor)
            .current_dir(dir.path());
        c
    };
    ok(run(t(&editor).args(["sops", "edit", "secrets/new.yaml"])));
    let text = fs::read_to_string(&new).unwrap();
    assert!(
        text.contains("kind: Secret") && !text.contains("t0k3n") && text.contains(R1),
        "{text}"
    );
    let out = ok(run(t(&editor).args([
        "sops",
        "decrypt",
        "secrets/new.yaml",
    ])));
    assert_eq!(out, b"kind: Secret\nstringData:\n    token: t0k3n\n");

    let broken = editor_writing(dir.path(), "stringData: [unclosed\n");
    let o = run(t(&broken).args(["sops", "edit", "secrets/new.yaml"]));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was written"));
    assert_eq!(
        fs::read_to_string(&new).unwrap(),
        text,
        "an invalid edit must not touch the file"
    );

    let o = run(t(&editor).args(["sops", "edit", "elsewhere.yaml"]));
    assert_eq!(code(&o), 1, "no rule matches: {}", stderr(&o));
    assert!(!dir.path().join("elsewhere.yaml").exists());
}
