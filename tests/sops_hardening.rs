//! What an unlucky user or a hostile repository does to `tollgate sops`: symlinked secrets,
//! equal values in many documents, killed processes, concurrent writers, plaintext over an
//! existing file, and every failure whose exit code a script tests. The exit codes are
//! compared with the real Go sops, case by case.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const PLAIN: &str = "a: 1\nb:\n    c: x\n";

/// A scratch directory with a key file, a plain file and its encryption (by tollgate).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let s = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::write(s.path("plain.yaml"), PLAIN).unwrap();
        let enc = ok(s.tollgate(&["encrypt", "--age", R1, "plain.yaml"]));
        fs::write(s.path("enc.yaml"), enc).unwrap();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn prepare(&self, mut c: Command) -> Command {
        c.current_dir(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", key(1));
        c
    }

    fn tollgate(&self, args: &[&str]) -> std::process::Output {
        run(self.prepare(tollgate()).arg("sops").args(args))
    }

    fn sops(&self, args: &[&str]) -> std::process::Output {
        run(self.prepare(sops()).args(args))
    }

    fn decrypts_to(&self, name: &str, want: &str) {
        let out = ok(self.sops(&["decrypt", name]));
        assert_eq!(String::from_utf8_lossy(&out), want, "{name}");
    }
}

#[test]
fn exit_codes_match_go_sops() {
    // Each case runs against both tools in fresh copies of the same files.
    /// What is tried, the arguments, extra environment.
    type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        (
            "rotate -i on a plaintext file",
            &["rotate", "-i", "plain.yaml"],
            &[],
        ),
        (
            "updatekeys on a plaintext file",
            &["updatekeys", "-y", "plain.yaml"],
            &[],
        ),
        ("decrypt an empty file", &["decrypt", "empty.yaml"], &[]),
        ("decrypt invalid YAML", &["decrypt", "bad.yaml"], &[]),
        ("decrypt invalid UTF-8", &["decrypt", "badutf.yaml"], &[]),
        (
            "encrypt invalid YAML",
            &["encrypt", "--age", R1, "bad.yaml"],
            &[],
        ),
        (
            "encrypt an empty file",
            &["encrypt", "--age", R1, "empty.yaml"],
            &[],
        ),
        ("decrypt a missing file", &["decrypt", "missing.yaml"], &[]),
        (
            "rotate -i a missing file",
            &["rotate", "-i", "missing.yaml"],
            &[],
        ),
        ("rotate a missing file", &["rotate", "missing.yaml"], &[]),
        (
            "updatekeys a missing file",
            &["updatekeys", "-y", "missing.yaml"],
            &[],
        ),
        (
            "set on a missing file",
            &["set", "missing.yaml", "[\"a\"]", "1"],
            &[],
        ),
        (
            "set with a malformed path",
            &["set", "enc.yaml", "[\"a\"", "1"],
            &[],
        ),
        (
            "unset with a malformed path",
            &["unset", "enc.yaml", "a"],
            &[],
        ),
        (
            "unset a missing key",
            &["unset", "enc.yaml", "[\"zz\"]"],
            &[],
        ),
        (
            "extract with a malformed path",
            &["decrypt", "--extract", "a", "enc.yaml"],
            &[],
        ),
        (
            "an editor that fails",
            &["edit", "enc.yaml"],
            &[("EDITOR", "false")],
        ),
        (
            "an output type that cannot hold the data",
            &["decrypt", "--output-type", "dotenv", "enc.yaml"],
            &[],
        ),
        (
            "filestatus on invalid YAML",
            &["filestatus", "bad.yaml"],
            &[],
        ),
        (
            "filestatus on a missing file",
            &["filestatus", "missing.yaml"],
            &[],
        ),
        (
            "encrypt an encrypted file",
            &["encrypt", "--age", R1, "enc.yaml"],
            &[],
        ),
    ];
    for (what, args, env) in cases {
        let mut codes = Vec::new();
        for peer in ["tollgate", "sops"] {
            let s = Scratch::new();
            fs::write(s.path("empty.yaml"), "").unwrap();
            fs::write(s.path("bad.yaml"), "a: [\n").unwrap();
            fs::write(s.path("badutf.yaml"), b"a: \xff\n").unwrap();
            fs::write(
                s.path(".sops.yaml"),
                format!("creation_rules:\n  - age: {R1}\n"),
            )
            .unwrap();
            let mut c = if peer == "sops" {
                s.prepare(sops())
            } else {
                let mut c = s.prepare(tollgate());
                c.arg("sops");
                c
            };
            c.args(*args);
            for (k, v) in *env {
                c.env(k, v);
            }
            codes.push(code(&run(&mut c)));
        }
        assert_eq!(
            codes[0], codes[1],
            "{what}: tollgate {} vs sops {}",
            codes[0], codes[1]
        );
        assert_ne!(codes[0], 0, "{what} must fail");
    }
}

#[test]
fn in_place_operations_write_through_symlinks_and_keep_them() {
    let s = Scratch::new();
    fs::create_dir(s.path("real")).unwrap();
    let real = s.path("real/secret.yaml");
    let link = s.path("link.yaml");
    let setup = |content: &str| {
        fs::write(&real, content).unwrap();
        let _ = fs::remove_file(&link);
        symlink("real/secret.yaml", &link).unwrap();
    };
    let is_link = || {
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    };
    let encrypted = fs::read_to_string(s.path("enc.yaml")).unwrap();

    setup(PLAIN);
    ok(s.tollgate(&["encrypt", "--age", R1, "-i", "link.yaml"]));
    assert!(is_link());
    assert!(
        fs::read_to_string(&real)
            .unwrap()
            .contains("ENC[AES256_GCM"),
        "the real file was left plaintext"
    );
    s.decrypts_to("real/secret.yaml", PLAIN);

    setup(&encrypted);
    ok(s.tollgate(&["decrypt", "-i", "link.yaml"]));
    assert!(is_link());
    assert_eq!(fs::read_to_string(&real).unwrap(), PLAIN);

    setup(&encrypted);
    ok(s.tollgate(&["set", "link.yaml", "[\"a\"]", "2"]));
    ok(s.tollgate(&["unset", "link.yaml", "[\"b\"]"]));
    assert!(is_link());
    s.decrypts_to("real/secret.yaml", "a: 2\n");

    setup(&encrypted);
    let editor = s.path("editor.sh");
    fs::write(&editor, "#!/bin/sh\nsed -i 's/x/edited/' \"$1\"\n").unwrap();
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).unwrap();
    ok(run(s
        .prepare(tollgate())
        .args(["sops", "edit", "link.yaml"])
        .env("EDITOR", &editor)));
    assert!(is_link());
    s.decrypts_to("real/secret.yaml", "a: 1\nb:\n    c: edited\n");

    // Key changes: a revoked recipient must lose access to the real file.
    setup(&encrypted);
    ok(s.tollgate(&["rotate", "-i", "--add-age", R2, "link.yaml"]));
    assert!(fs::read_to_string(&real).unwrap().contains(R2));
    ok(s.tollgate(&["rotate", "-i", "--rm-age", R2, "link.yaml"]));
    assert!(
        !fs::read_to_string(&real).unwrap().contains(R2),
        "rotate --rm-age skipped the link"
    );
    assert!(is_link());
    fs::write(
        s.path(".sops.yaml"),
        format!("creation_rules:\n  - age: {R1},{R3}\n"),
    )
    .unwrap();
    ok(s.tollgate(&["updatekeys", "-y", "link.yaml"]));
    assert!(
        fs::read_to_string(&real).unwrap().contains(R3),
        "updatekeys skipped the link"
    );
    assert!(is_link());
    s.decrypts_to("real/secret.yaml", PLAIN);
}

#[test]
fn directory_walks_follow_links_inside_the_tree_and_name_the_others() {
    let s = Scratch::new();
    let encrypted = fs::read_to_string(s.path("enc.yaml")).unwrap();
    fs::create_dir_all(s.path("tree/apps")).unwrap();
    fs::create_dir_all(s.path("outside")).unwrap();
    fs::write(s.path("outside/other.yaml"), &encrypted).unwrap();
    fs::write(s.path("tree/apps/real.yaml"), &encrypted).unwrap();
    symlink("apps/real.yaml", s.path("tree/inside-link.yaml")).unwrap();
    symlink("../outside/other.yaml", s.path("tree/outside-link.yaml")).unwrap();
    let o = s.tollgate(&["rotate", "-i", "--recursive", "--add-age", R2, "tree"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // The real file is rotated once, whichever path reached it first.
    assert_eq!(out.matches(": updated").count(), 1, "{out}");
    assert!(fs::read_to_string(s.path("tree/apps/real.yaml"))
        .unwrap()
        .contains(R2));
    // The link out of the tree is not followed, and says so.
    assert!(!fs::read_to_string(s.path("outside/other.yaml"))
        .unwrap()
        .contains(R2));
    let err = stderr(&o);
    assert!(err.contains("outside-link.yaml: not followed"), "{err}");
}

#[test]
fn rotate_never_gives_two_values_one_iv() {
    // Two documents with the same value at the same path: after rotate (which keeps IVs of
    // unchanged values), each must still have its own IV, hence its own ciphertext.
    let s = Scratch::new();
    let docs = "apiVersion: v1\nkind: Secret\nstringData:\n    password: same\n---\napiVersion: v1\nkind: Secret\nstringData:\n    password: same\n";
    fs::write(s.path("two.yaml"), docs).unwrap();
    ok(s.tollgate(&["encrypt", "--age", R1, "-i", "two.yaml"]));
    let values = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.trim_start().starts_with("password: ENC["))
            .map(str::to_owned)
            .collect()
    };
    let fresh = values(&fs::read_to_string(s.path("two.yaml")).unwrap());
    assert_eq!(fresh.len(), 2);
    assert_ne!(fresh[0], fresh[1]);
    ok(s.tollgate(&["rotate", "-i", "two.yaml"]));
    let rotated = values(&fs::read_to_string(s.path("two.yaml")).unwrap());
    assert_ne!(
        rotated[0], rotated[1],
        "one IV served two values under one data key"
    );
    ok(s.tollgate(&["set", "two.yaml", "[\"kind\"]", "\"Secret\""]));
    let after_set = values(&fs::read_to_string(s.path("two.yaml")).unwrap());
    assert_ne!(after_set[0], after_set[1]);
    s.decrypts_to("two.yaml", docs);
}

#[test]
fn concurrent_sets_lose_no_update() {
    let s = Scratch::new();
    let children: Vec<_> = (0..16)
        .map(|i| {
            s.prepare(tollgate())
                .args([
                    "sops",
                    "set",
                    "enc.yaml",
                    &format!("[\"k{i}\"]"),
                    &i.to_string(),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let out = String::from_utf8_lossy(&ok(s.sops(&["decrypt", "enc.yaml"]))).into_owned();
    for i in 0..16 {
        assert!(
            out.contains(&format!("k{i}: {i}\n")),
            "update k{i} lost:\n{out}"
        );
    }
}

#[test]
fn stale_temp_files_are_removed_by_the_next_in_place_operation() {
    let s = Scratch::new();
    // What a process killed mid-`decrypt -i` leaves: plaintext beside the file.
    let stale = s.path(".enc.yaml.tollgate-0123456789ab.tmp");
    fs::write(&stale, PLAIN).unwrap();
    let o = s.tollgate(&["set", "enc.yaml", "[\"a\"]", "5"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stale.exists());
    assert!(stderr(&o).contains("removed 1 temporary file"));
}

#[test]
fn a_signal_during_edit_removes_the_plaintext() {
    let s = Scratch::new();
    let tmp = s.path("tmp");
    fs::create_dir(&tmp).unwrap();
    let started = s.path("started");
    let editor = s.path("slow-editor.sh");
    fs::write(
        &editor,
        format!(
            "#!/bin/sh\necho $$ > '{}'\nexec sleep 30\n",
            started.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = s
        .prepare(tollgate())
        .args(["sops", "edit", "enc.yaml"])
        .env("EDITOR", &editor)
        .env("TMPDIR", &tmp)
        .spawn()
        .unwrap();
    // Bounded wait for the editor to start (it holds the plaintext open by then).
    for _ in 0..200 {
        if fs::read_to_string(&started).is_ok_and(|p| p.ends_with('\n')) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(started.exists(), "the editor never started");
    assert_eq!(
        fs::read_dir(&tmp).unwrap().count(),
        1,
        "the private directory exists"
    );
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    // The editor is the user's to close; here it is a sleep that must not outlive the test.
    let editor_pid = fs::read_to_string(&started).unwrap();
    let _ = Command::new("kill").arg(editor_pid.trim()).status();
    assert_eq!(
        fs::read_dir(&tmp).unwrap().count(),
        0,
        "plaintext left in TMPDIR"
    );
    // The encrypted file is untouched.
    s.decrypts_to("enc.yaml", PLAIN);
}

#[test]
fn decrypted_output_is_private_even_over_an_existing_file() {
    let s = Scratch::new();
    let out = s.path("out.yaml");
    fs::write(&out, "old").unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o644)).unwrap();
    ok(s.tollgate(&["decrypt", "--output", "out.yaml", "enc.yaml"]));
    assert_eq!(fs::read_to_string(&out).unwrap(), PLAIN);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o600);
    // In place too: the plaintext replaces a 0644 ciphertext as 0600.
    fs::set_permissions(s.path("enc.yaml"), fs::Permissions::from_mode(0o644)).unwrap();
    ok(s.tollgate(&["decrypt", "-i", "enc.yaml"]));
    assert_eq!(mode(&s.path("enc.yaml")), 0o600);
}
