//! PGP keys with the real GnuPG (Debian `gnupg`) and the real Go sops, both ways: keys made in
//! a temporary GNUPGHOME, files encrypted by one tool and decrypted by the other, age and PGP
//! side by side, key changes that keep PGP recipients, and the errors when no key opens a file.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary GnuPG home with one key, whose agent is stopped when it drops.
struct Gpg {
    dir: tempfile::TempDir,
    fp: String,
}

impl Gpg {
    /// A key without passphrase: `future-default` is ed25519 with a cv25519 encryption
    /// subkey (GnuPG 2.2's ECC default), `rsa2048` an RSA key with an RSA subkey.
    fn new(algo: &str) -> Gpg {
        let dir = private_home("tg-gpg");
        let mut g = Gpg {
            dir,
            fp: String::new(),
        };
        ok(run(g.gpg().args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "tollgate test <test@example.invalid>",
            algo,
            "default",
            "never",
        ])));
        let listing =
            String::from_utf8(ok(run(g.gpg().args(["--with-colons", "--list-keys"])))).unwrap();
        let fp = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:::::::::"))
            .map(|l| l.trim_end_matches(':').to_owned())
            .expect("a fingerprint");
        if algo != "future-default" {
            // `--quick-gen-key` with another algorithm makes a signing key only.
            ok(run(g.gpg().args([
                "--batch",
                "--passphrase",
                "",
                "--quick-add-key",
                &fp,
                algo,
                "encr",
                "never",
            ])));
        }
        g.fp = fp;
        g
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn gpg(&self) -> Command {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", self.home());
        c
    }

    /// Another home holding only this key's public half (a CI runner that encrypts).
    fn public_only(&self) -> tempfile::TempDir {
        let other = private_home("tg-gpgpub");
        import(
            other.path(),
            &ok(run(self.gpg().args(["--export", &self.fp]))),
        );
        other
    }
}

/// An empty GnuPG home, private as GnuPG wants it.
fn private_home(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    dir
}

/// Imports exported keys (public or secret) into `home`.
fn import(home: &Path, keys: &[u8]) {
    let p = home.join("import.gpg");
    fs::write(&p, keys).unwrap();
    ok(run(Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--import"])
        .arg(&p)));
}

/// Go sops and `tollgate sops`, named, for running the same arguments through both.
fn both_tools() -> [(&'static str, Command); 2] {
    let mut ours = tollgate();
    ours.arg("sops");
    [("sops", sops()), ("tollgate", ours)]
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

fn with_home(mut c: Command, home: &Path) -> Command {
    c.env("GNUPGHOME", home);
    c
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

const PLAIN: &str = "db:\n    user: admin\n    password: s3cr3t\nlist:\n    - 1\n    - two\n";

#[test]
fn ecc_and_rsa_keys_both_ways() {
    for algo in ["future-default", "rsa2048"] {
        let g = Gpg::new(algo);
        let dir = tempfile::tempdir().unwrap();
        for name in ["s.yaml", "s.json"] {
            let text = if name.ends_with(".json") {
                "{\"user\": \"admin\", \"password\": \"s3cr3t\"}"
            } else {
                PLAIN
            };
            let plain = write(dir.path(), name, text);
            let by_sops = ok(run(with_home(sops(), g.home())
                .args(["encrypt", "--pgp", &g.fp])
                .arg(&plain)));
            let by_sops = write(
                dir.path(),
                &format!("sops-{name}"),
                &String::from_utf8(by_sops).unwrap(),
            );
            // tollgate encrypts with the public key only, as a CI runner would.
            let public = g.public_only();
            let by_us = ok(run(with_home(tollgate(), public.path())
                .args(["sops", "encrypt", "--pgp", &g.fp])
                .arg(&plain)));
            let by_us_text = String::from_utf8(by_us).unwrap();
            assert!(by_us_text.contains(&g.fp), "{algo} {name}: fp recorded");
            let by_us = write(dir.path(), &format!("ours-{name}"), &by_us_text);
            let want = ok(run(with_home(sops(), g.home())
                .arg("decrypt")
                .arg(&by_sops)));
            assert_eq!(
                ok(run(with_home(tollgate(), g.home())
                    .args(["sops", "decrypt"])
                    .arg(&by_sops))),
                want,
                "{algo} {name}: ours of sops's"
            );
            assert_eq!(
                ok(run(with_home(sops(), g.home()).arg("decrypt").arg(&by_us))),
                want,
                "{algo} {name}: sops's of ours"
            );
        }
    }
}

#[test]
fn a_file_with_age_and_pgp_recipients_opens_with_either() {
    let g = Gpg::new("future-default");
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "s.yaml", PLAIN);
    let empty_home = tempfile::tempdir().unwrap();
    for (who, mut cmd) in both_tools() {
        let enc = ok(run(cmd
            .env("GNUPGHOME", g.home())
            .args(["encrypt", "--age", R1, "--pgp", &g.fp])
            .arg(&plain)));
        let enc = write(
            dir.path(),
            &format!("{who}.enc.yaml"),
            &String::from_utf8(enc).unwrap(),
        );
        let want = fs::read(&plain).unwrap();
        // age only (a GnuPG home without keys), then PGP only (no age key anywhere).
        for (how, home, age_key) in [
            ("age", empty_home.path(), Some(key(1))),
            ("pgp", g.home(), None),
        ] {
            for (reader, mut decrypt) in both_tools() {
                decrypt.env("GNUPGHOME", home);
                if let Some(k) = &age_key {
                    decrypt.env("SOPS_AGE_KEY_FILE", k);
                }
                assert_eq!(
                    ok(run(decrypt.arg("decrypt").arg(&enc))),
                    want,
                    "{who}'s file, {reader}: {how}"
                );
            }
        }
    }
}

#[test]
fn rotate_and_updatekeys_keep_and_change_pgp_recipients() {
    let g = Gpg::new("future-default");
    let g2 = Gpg::new("future-default");
    // One home with both keys, so either can be encrypted to.
    let both = private_home("tg-gpgboth");
    for k in [&g, &g2] {
        let secret = ok(run(k.gpg().args([
            "--batch",
            "--export-secret-keys",
            &k.fp,
        ])));
        import(both.path(), &secret);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.yaml", PLAIN);
    ok(run(with_home(tollgate(), both.path())
        .args(["sops", "encrypt", "-i", "--age", R1, "--pgp", &g.fp])
        .arg(&file)));
    // rotate: a new data key, both recipients kept; sops opens it with the PGP key alone.
    ok(run(with_home(tollgate(), both.path())
        .env("SOPS_AGE_KEY_FILE", key(1))
        .args(["sops", "rotate", "-i"])
        .arg(&file)));
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains(&g.fp) && text.contains(R1), "{text}");
    assert_eq!(
        ok(run(with_home(sops(), g.home()).arg("decrypt").arg(&file))),
        PLAIN.as_bytes()
    );
    // --add-pgp / --rm-pgp: the second key replaces the first.
    ok(run(with_home(tollgate(), both.path())
        .env("SOPS_AGE_KEY_FILE", key(1))
        .args([
            "sops",
            "rotate",
            "-i",
            "--add-pgp",
            &g2.fp,
            "--rm-pgp",
            &g.fp,
        ])
        .arg(&file)));
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains(&g2.fp) && !text.contains(&g.fp), "{text}");
    assert_eq!(
        ok(run(with_home(sops(), g2.home()).arg("decrypt").arg(&file))),
        PLAIN.as_bytes()
    );
    let o = run(with_home(sops(), g.home()).arg("decrypt").arg(&file));
    assert_eq!(code(&o), 128, "the removed key no longer opens it");

    // updatekeys from .sops.yaml: a rule with a key group of age and both PGP keys.
    fs::write(
        dir.path().join(".sops.yaml"),
        format!(
            "creation_rules:\n  - key_groups:\n      - age: [{R1}]\n        pgp: [{}, {}]\n",
            g.fp, g2.fp
        ),
    )
    .unwrap();
    let o = run(with_home(tollgate(), both.path())
        .current_dir(dir.path())
        .env("SOPS_AGE_KEY_FILE", key(1))
        .args(["sops", "updatekeys", "-y", "s.yaml"]));
    let out = String::from_utf8(ok(o)).unwrap();
    assert!(out.contains(&format!("+ pgp:{}", g.fp)), "{out}");
    for k in [&g, &g2] {
        assert_eq!(
            ok(run(with_home(sops(), k.home()).arg("decrypt").arg(&file))),
            PLAIN.as_bytes()
        );
    }
    // The dry run now finds nothing to do; sops's own updatekeys agrees.
    let o = run(with_home(tollgate(), both.path())
        .current_dir(dir.path())
        .args(["sops", "updatekeys", "--dry-run", "--check", "s.yaml"]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(with_home(sops(), both.path())
        .current_dir(dir.path())
        .env("SOPS_AGE_KEY_FILE", key(1))
        .args(["updatekeys", "-y", "s.yaml"]));
    assert!(stderr(&o).contains("already up to date"), "{}", stderr(&o));
}

#[test]
fn shamir_groups_of_age_and_pgp_both_ways() {
    let g = Gpg::new("future-default");
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".sops.yaml"),
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{R1}]\n      - pgp: [{}]\n      - age: [{R2}]\n",
            g.fp
        ),
    )
    .unwrap();
    let plain = write(dir.path(), "s.yaml", PLAIN);
    let ours = ok(run(with_home(tollgate(), g.home())
        .current_dir(dir.path())
        .args(["sops", "encrypt", "s.yaml"])));
    let ours = write(
        dir.path(),
        "ours.enc.yaml",
        &String::from_utf8(ours).unwrap(),
    );
    let theirs = ok(run(with_home(sops(), g.home())
        .current_dir(dir.path())
        .args(["encrypt", "s.yaml"])));
    let theirs = write(
        dir.path(),
        "theirs.enc.yaml",
        &String::from_utf8(theirs).unwrap(),
    );
    let want = fs::read(&plain).unwrap();
    // Two of three groups: the age key of group 1 and the PGP key of group 2.
    for f in [&ours, &theirs] {
        assert_eq!(
            ok(run(with_home(sops(), g.home())
                .env("SOPS_AGE_KEY_FILE", key(1))
                .arg("decrypt")
                .arg(f))),
            want
        );
        assert_eq!(
            ok(run(with_home(tollgate(), g.home())
                .env("SOPS_AGE_KEY_FILE", key(1))
                .args(["sops", "decrypt"])
                .arg(f))),
            want
        );
        // One group alone is not enough.
        let o = run(with_home(tollgate(), g.home())
            .args(["sops", "decrypt"])
            .arg(f));
        assert_eq!(code(&o), 128, "{}", stderr(&o));
    }
}

#[test]
fn exported_secret_keys_open_files_without_gnupg() {
    // sops's OpenPGP path reads the legacy secring.gpg; `gpg --export-secret-keys` writes that
    // format. With GnuPG made unusable (SOPS_GPG_EXEC=false), tollgate still decrypts in
    // process; without the file it must fail, naming GnuPG's failure.
    let g = Gpg::new("future-default");
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "s.yaml", PLAIN);
    let enc = ok(run(with_home(sops(), g.home())
        .args(["encrypt", "--pgp", &g.fp])
        .arg(&plain)));
    let enc = write(dir.path(), "s.enc.yaml", &String::from_utf8(enc).unwrap());
    let o = run(with_home(tollgate(), g.home())
        .env("SOPS_GPG_EXEC", "false")
        .args(["sops", "decrypt"])
        .arg(&enc));
    assert_eq!(code(&o), 128, "{}", stderr(&o));
    let secret = ok(run(g.gpg().args([
        "--batch",
        "--export-secret-keys",
        &g.fp,
    ])));
    fs::write(g.home().join("secring.gpg"), secret).unwrap();
    assert_eq!(
        ok(run(with_home(tollgate(), g.home())
            .env("SOPS_GPG_EXEC", "false")
            .args(["sops", "decrypt"])
            .arg(&enc))),
        PLAIN.as_bytes()
    );
}

#[test]
fn no_key_errors_name_every_recipient_and_where_keys_were_looked_for() {
    let g = Gpg::new("future-default");
    let other = Gpg::new("future-default");
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "s.yaml", PLAIN);
    let enc = ok(run(with_home(sops(), g.home())
        .args(["encrypt", "--age", R1, "--pgp", &g.fp])
        .arg(&plain)));
    let enc = write(dir.path(), "s.enc.yaml", &String::from_utf8(enc).unwrap());
    for (_, mut cmd) in both_tools() {
        let o = run(cmd
            .env("GNUPGHOME", other.home())
            .env("SOPS_AGE_KEY_FILE", key(2))
            .arg("decrypt")
            .arg(&enc));
        assert_eq!(code(&o), 128, "wrong keys: the exit code sops gives");
    }
    let o = run(with_home(tollgate(), other.home())
        .env("SOPS_AGE_KEY_FILE", key(2))
        .args(["sops", "decrypt"])
        .arg(&enc));
    let e = stderr(&o);
    assert!(
        e.contains(R1) && e.contains(&g.fp),
        "both recipients named: {e}"
    );
    assert!(
        e.contains("GnuPG keyring") && e.contains(&other.home().display().to_string()),
        "{e}"
    );
    assert!(
        e.contains("No secret key") || e.contains("decryption failed"),
        "GnuPG's reason: {e}"
    );
    assert!(e.contains("SOPS_AGE_KEY_FILE"), "{e}");
    assert!(!e.contains("s3cr3t"));

    // A PGP-only file: the hint is about GnuPG, not age.
    let enc = ok(run(with_home(sops(), g.home())
        .args(["encrypt", "--pgp", &g.fp])
        .arg(&plain)));
    let enc = write(dir.path(), "p.enc.yaml", &String::from_utf8(enc).unwrap());
    let e = stderr(&run(with_home(tollgate(), other.home())
        .args(["sops", "decrypt"])
        .arg(&enc)));
    assert!(
        e.contains("gpg --import") && !e.contains("SOPS_AGE_KEY_FILE"),
        "{e}"
    );
    assert!(!e.contains("age recipients"), "{e}");

    // A file whose only key is a KMS key: said plainly, with what to do.
    let text = fs::read_to_string(&enc).unwrap();
    let kms = text.replace(
        "    pgp:\n",
        "    kms:\n        - arn: arn:aws:kms:eu-west-1:111122223333:key/k\n          created_at: \"2026-01-01T00:00:00Z\"\n          enc: AQICAH\n          aws_profile: \"\"\n    pgp_was:\n",
    );
    let kms_file = write(dir.path(), "k.enc.yaml", &kms);
    let o = run(with_home(tollgate(), other.home())
        .args(["sops", "decrypt"])
        .arg(&kms_file));
    let e = stderr(&o);
    assert_eq!(code(&o), 128, "{e}");
    assert!(
        e.contains("kms:arn:aws:kms:eu-west-1:111122223333:key/k") && e.contains("Go sops"),
        "{e}"
    );
}

#[test]
fn a_stale_pubring_gpg_does_not_hide_keys_imported_since() {
    // GnuPG 2.1 moves pubring.gpg to pubring.kbx and leaves the old file: a key imported after
    // the migration is only in the new store. The stale file here holds another key; the one
    // wanted must still be found through GnuPG, and one only in the stale file from it.
    let g = Gpg::new("future-default");
    let stale = Gpg::new("future-default");
    let home = g.public_only();
    let old = ok(run(stale.gpg().args(["--export", &stale.fp])));
    fs::write(home.path().join("pubring.gpg"), old).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "s.yaml", PLAIN);
    for fp in [&g.fp, &stale.fp] {
        let enc = ok(run(with_home(tollgate(), home.path())
            .args(["sops", "encrypt", "--pgp", fp])
            .arg(&plain)));
        let enc = write(dir.path(), "s.enc.yaml", &String::from_utf8(enc).unwrap());
        let owner = if fp == &g.fp { &g } else { &stale };
        assert_eq!(
            ok(run(with_home(sops(), owner.home())
                .arg("decrypt")
                .arg(&enc))),
            PLAIN.as_bytes(),
            "{fp}"
        );
    }
}
