//! What sops's own functional tests (getsops/sops `functional-tests`) check, run through both
//! the real Go sops and `tollgate sops` with the same arguments: the legacy command forms
//! scripts call, `set` with values from files and stdin, `exec-env` and `exec-file`, key
//! groups that have no keys, and `groups add|delete`. Each step runs in a directory of its own
//! per tool, from the same plaintext, and the results are compared (or decrypted by the other
//! tool).

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// One working directory per tool, with a `.sops.yaml` that encrypts for R1 (as the
/// functional tests' catch-all rule encrypts for their PGP key) and rules without keys.
struct Both {
    dirs: Vec<(&'static str, tempfile::TempDir)>,
}

const SOPS_YAML: &str = "creation_rules:
  - path_regex: test_no_keygroups
  - path_regex: test_zero_keygroups
    key_groups: []
  - path_regex: test_empty_keygroup
    key_groups:
      - {}
  - age: age1u5z3s42j4q7wngqqk75ep99mttyff7vuy5l0w35mg8me9qskps0sxsldyu
";

impl Both {
    fn new() -> Both {
        let dirs = ["sops", "tollgate"]
            .into_iter()
            .map(|who| {
                let d = tempfile::tempdir().unwrap();
                fs::write(d.path().join(".sops.yaml"), SOPS_YAML).unwrap();
                (who, d)
            })
            .collect();
        Both { dirs }
    }

    /// Writes the same file into both directories.
    fn file(&self, name: &str, content: &str) {
        for (_, d) in &self.dirs {
            fs::write(d.path().join(name), content).unwrap();
        }
    }

    /// Runs `args` with each tool in its directory (R1's key available), returning
    /// `(tool, directory, output)`.
    fn run(&self, args: &[&str]) -> Vec<(&'static str, PathBuf, Output)> {
        self.run_with(args, |_| {})
    }

    fn run_with(
        &self,
        args: &[&str],
        setup: impl Fn(&mut Command),
    ) -> Vec<(&'static str, PathBuf, Output)> {
        self.dirs
            .iter()
            .map(|(who, d)| {
                let mut c = tool(who);
                c.current_dir(d.path())
                    .env("SOPS_AGE_KEY_FILE", key(1))
                    .args(args);
                setup(&mut c);
                (*who, d.path().to_path_buf(), run(&mut c))
            })
            .collect()
    }

    /// Runs `args` with both tools; both must succeed; returns their outputs.
    fn ok(&self, args: &[&str]) -> Vec<(&'static str, PathBuf, Vec<u8>)> {
        self.run(args)
            .into_iter()
            .map(|(who, dir, o)| {
                assert!(o.status.success(), "{who} {args:?}: {}", stderr(&o));
                (who, dir, o.stdout)
            })
            .collect()
    }
}

fn tool(who: &str) -> Command {
    if who == "sops" {
        sops()
    } else {
        let mut c = tollgate();
        c.arg("sops");
        c
    }
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap()
}

const EXEC_PLAIN: &str = "foo: bar\nbar: |-\n  baz\n  bam\n";

#[test]
fn legacy_flags_encrypt_set_extract_decrypt_and_rotate_as_sops_does() {
    let both = Both::new();
    both.file("compat.yaml", "a: 2\nb: ba\n");
    // `-e -i`, then `--set '["a"] "aaa"'` (written in place), then `-d -i`: the
    // set_yaml_file_string_compat steps.
    both.ok(&["-e", "-i", "compat.yaml"]);
    for (who, dir, _) in both.ok(&["--set", r#"["a"] "aaa""#, "compat.yaml"]) {
        let text = read(&dir, "compat.yaml");
        assert!(
            text.contains("sops:") && !text.contains("aaa"),
            "{who}: {text}"
        );
    }
    // `-d --extract` and helm-secrets' `-d --input-type yaml --output-type json`: the same
    // bytes from both tools, for each tool's file.
    let extracted = both.ok(&["-d", "--extract", r#"["a"]"#, "compat.yaml"]);
    for (who, _, out) in &extracted {
        assert_eq!(out, b"aaa", "{who}: a string prints without a newline");
    }
    let as_json = both.ok(&[
        "-d",
        "--input-type",
        "yaml",
        "--output-type",
        "json",
        "compat.yaml",
    ]);
    for (who, _, out) in &as_json {
        assert_eq!(
            String::from_utf8_lossy(out),
            "{\n\t\"a\": \"aaa\",\n\t\"b\": \"ba\"\n}\n",
            "{who}"
        );
    }
    // `-r -i`: a new data key (the MAC changes), same plaintext.
    let before: Vec<String> = both
        .dirs
        .iter()
        .map(|(_, d)| read(d.path(), "compat.yaml"))
        .collect();
    both.ok(&["-r", "-i", "compat.yaml"]);
    for ((who, d), old) in both.dirs.iter().zip(&before) {
        let new = read(d.path(), "compat.yaml");
        let mac = |t: &str| t.lines().find(|l| l.contains("mac:")).map(str::to_owned);
        assert_ne!(mac(&new), mac(old), "{who}: rotated");
    }
    both.ok(&["-d", "-i", "compat.yaml"]);
    for (who, d) in &both.dirs {
        assert_eq!(read(d.path(), "compat.yaml"), "a: aaa\nb: ba\n", "{who}");
    }
    // Each tool's encrypted file opens with the other tool.
    both.file("x.yaml", "k: v\n");
    let encrypted = both.ok(&["-e", "x.yaml"]);
    for (who, dir, out) in encrypted {
        fs::write(dir.join("x.enc.yaml"), out).unwrap();
        let other = if who == "sops" { "tollgate" } else { "sops" };
        let back = ok(run(tool(other)
            .env("SOPS_AGE_KEY_FILE", key(1))
            .args(["-d", "x.enc.yaml"])
            .current_dir(&dir)));
        assert_eq!(back, b"k: v\n", "{other} opens {who}'s");
    }
}

#[test]
fn legacy_errors_exit_as_sops_does() {
    let both = Both::new();
    both.file("plain.yaml", "a: 1\n");
    // Reasoning per case, from sops's main action: no file is "no file specified" (100);
    // -e/-d on a missing file is 100; --add-age on a missing file is 49; -i with --output is
    // 8; a --set without a value after the path is 7.
    for (args, want) in [
        (&["-d"][..], 100),
        (&["-d", "missing.yaml"][..], 100),
        (&["-e", "missing.yaml"][..], 100),
        (&["-r", "--add-age", R2, "missing.yaml"][..], 49),
        (&["-e", "-i", "--output", "o.yaml", "plain.yaml"][..], 8),
        (&["--set", r#"["a"]"#, "plain.yaml"][..], 7),
    ] {
        for (who, _, o) in both.run(args) {
            assert_eq!(code(&o), want, "{who} {args:?}: {}", stderr(&o));
        }
    }
}

#[test]
fn a_file_and_no_subcommand_opens_the_editor_with_sops_exit_codes() {
    let both = Both::new();
    both.file("e.yaml", "a: 1\n");
    both.ok(&["-e", "-i", "e.yaml"]);
    // An editor that changes nothing: 200, "file has not changed".
    for (who, _, o) in both.run_with(&["e.yaml"], |c| {
        c.env("EDITOR", "true");
    }) {
        assert_eq!(code(&o), 200, "{who}: {}", stderr(&o));
    }
    // An editor that rewrites the value: 0, and the other tool reads the new value.
    let dir = tempfile::tempdir().unwrap();
    let editor = dir.path().join("ed.sh");
    fs::write(&editor, "#!/bin/sh\nprintf 'a: 2\\n' > \"$1\"\n").unwrap();
    fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for (who, dir, o) in both.run_with(&["e.yaml"], |c| {
        c.env("EDITOR", &editor);
    }) {
        assert_eq!(code(&o), 0, "{who}: {}", stderr(&o));
        let other = if who == "sops" { "tollgate" } else { "sops" };
        let back = ok(run(tool(other)
            .env("SOPS_AGE_KEY_FILE", key(1))
            .args(["decrypt", "e.yaml"])
            .current_dir(&dir)));
        assert_eq!(back, b"a: 2\n", "{other} reads {who}'s edit");
    }
}

#[test]
fn set_reads_values_from_a_named_file_or_stdin_and_counts_arguments() {
    let both = Both::new();
    both.file("s.json", r#"{"a": 2, "b": "ba"}"#);
    both.file("value.json", r#"{"cc": "ccc"}"#);
    both.ok(&["encrypt", "-i", "s.json"]);
    // --value-file is a switch: VALUE is the name of the file holding the JSON value.
    both.ok(&["set", "--value-file", "s.json", r#"["c"]"#, "value.json"]);
    // --value-stdin: no VALUE argument.
    for (who, d) in &both.dirs {
        let mut c = tool(who);
        c.current_dir(d.path())
            .env("SOPS_AGE_KEY_FILE", key(1))
            .args(["set", "--value-stdin", "s.json", r#"["d"]"#])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"{\"x\": [1]}").unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{who}: {}", stderr(&o));
    }
    let outs = both.ok(&["decrypt", "s.json"]);
    for (who, _, out) in &outs {
        let v: serde_json::Value = serde_json::from_slice(out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": 2, "b": "ba", "c": {"cc": "ccc"}, "d": {"x": [1]}}),
            "{who}"
        );
    }
    // A list cannot be the value (sops reads structured values as a JSON file, whose top
    // level is an object): 7.
    for (who, _, o) in both.run(&["set", "s.json", r#"["e"]"#, "[1, 2]"]) {
        assert_eq!(code(&o), 7, "{who}: {}", stderr(&o));
    }
    // sops counts positional arguments before anything else: 100 either way round.
    for args in [
        &["set", "s.json", r#"["a"]"#][..],
        &["set", "--value-stdin", "s.json", r#"["a"]"#, "3"][..],
    ] {
        for (who, _, o) in both.run(args) {
            assert_eq!(code(&o), 100, "{who} {args:?}: {}", stderr(&o));
        }
    }
}

#[test]
fn exec_env_exports_top_level_values_and_passes_the_exit_code_through() {
    let both = Both::new();
    both.file("env.yaml", EXEC_PLAIN);
    both.ok(&["encrypt", "-i", "env.yaml"]);
    // The functional test's two scripts: a plain value, and a block scalar kept as its lines.
    for (var, want) in [("foo", "bar\n"), ("bar", "baz\nbam\n")] {
        let script = format!("echo \"${{{var}}}\"");
        for (who, _, out) in both.ok(&["exec-env", "env.yaml", &script]) {
            assert_eq!(String::from_utf8_lossy(&out), want, "{who} {var}");
        }
    }
    // The child's status is the tool's.
    for (who, _, o) in both.run(&["exec-env", "env.yaml", "exit 7"]) {
        assert_eq!(code(&o), 7, "{who}");
    }
    // --pristine: the values and what /bin/sh sets itself, nothing of the caller's (the
    // variable set here must not show).
    let listed: Vec<String> = both
        .run_with(&["exec-env", "--pristine", "env.yaml", "env"], |c| {
            c.env("TOLLGATE_TEST_CALLER", "1");
        })
        .into_iter()
        .map(|(who, _, o)| {
            let text = String::from_utf8(ok(o)).unwrap();
            assert!(!text.contains("TOLLGATE_TEST_CALLER"), "{who}: {text}");
            assert!(text.contains("foo=bar"), "{who}: {text}");
            let mut lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("PWD=")).collect();
            lines.sort_unstable();
            lines.join("\n")
        })
        .collect();
    assert_eq!(listed[0], listed[1], "same environment from both");
    // Nested values cannot be exported: both refuse with exit 1, naming the key.
    both.file("nested.yaml", "outer:\n  inner: secret-value\n");
    both.ok(&["encrypt", "-i", "nested.yaml"]);
    for (who, _, o) in both.run(&["exec-env", "nested.yaml", "true"]) {
        assert_eq!(code(&o), 1, "{who}");
        assert!(stderr(&o).contains("outer"), "{who}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("secret-value"),
            "{who}: {}",
            stderr(&o)
        );
    }
    // Without a command: "missing file to decrypt", exit 1.
    for (who, _, o) in both.run(&["exec-env", "env.yaml"]) {
        assert_eq!(code(&o), 1, "{who}: {}", stderr(&o));
    }
}

#[test]
fn exec_file_hands_over_a_fifo_or_a_private_file_that_is_gone_afterwards() {
    let both = Both::new();
    both.file("f.yaml", EXEC_PLAIN);
    both.ok(&["-e", "-i", "f.yaml"]);
    // exec_file: the plaintext in the output type, through `{}`.
    for (who, _, out) in both.ok(&["exec-file", "--output-type", "json", "f.yaml", "cat {}"]) {
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\n\t\"foo\": \"bar\",\n\t\"bar\": \"baz\\nbam\"\n}\n",
            "{who}"
        );
    }
    // By default `{}` is a FIFO (the plaintext never reaches a disk); with --no-fifo a 0600
    // file named --filename. Both are removed when the command ends.
    for (args, test) in [
        (&["exec-file", "f.yaml"][..], "test -p {} && echo {}"),
        (
            &["exec-file", "--no-fifo", "--filename", "foobar", "f.yaml"][..],
            "test -f {} && stat -c %a {} && cat {} >/dev/null && echo {}",
        ),
    ] {
        let mut full = args.to_vec();
        full.push(test);
        for (who, _, out) in both.ok(&full) {
            let text = String::from_utf8(out).unwrap();
            let path = text.lines().last().unwrap().to_owned();
            if args.contains(&"--no-fifo") {
                assert!(text.starts_with("600\n"), "{who}: {text}");
                assert!(path.ends_with("/foobar"), "{who}: {path}");
            }
            assert!(!Path::new(&path).exists(), "{who}: {path} removed");
        }
    }
    // A FIFO the command never opens does not hang the tool; the exit code passes through.
    for (who, _, o) in both.run(&["exec-file", "f.yaml", "exit 3"]) {
        assert_eq!(code(&o), 3, "{who}");
    }
    // --filename must stay inside the private directory: sops refuses it since 3.12 ("The
    // provided filename is not a local path.", exit 1); the pinned 3.11 still accepts it, so
    // only tollgate is asked.
    let o = run(tool("tollgate")
        .env("SOPS_AGE_KEY_FILE", key(1))
        .current_dir(both.dirs[1].1.path())
        .args(["exec-file", "--filename", "../x", "f.yaml", "true"]));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("not a local path"), "{}", stderr(&o));
}

#[test]
fn key_groups_without_keys_fail_with_sops_words() {
    let both = Both::new();
    // The three rules of SOPS_YAML: no keys at all, `key_groups: []`, and `key_groups: [{}]`
    // all leave one group with no key, which sops reports in these words (its functional
    // tests compare them), exit 1.
    for name in [
        "test_no_keygroups.yaml",
        "test_zero_keygroups.yaml",
        "test_empty_keygroup.yaml",
    ] {
        both.file(name, "a: secret\n");
        for (who, dir, o) in both.run(&["encrypt", "-i", name]) {
            assert_eq!(code(&o), 1, "{who} {name}");
            assert!(
                stderr(&o).contains("Could not generate data key: [empty key group provided]"),
                "{who} {name}: {}",
                stderr(&o)
            );
            assert_eq!(read(&dir, name), "a: secret\n", "{who}: file untouched");
        }
    }
}

#[test]
fn groups_add_and_delete_keep_the_data_key_and_agree_with_sops() {
    let both = Both::new();
    let keys = tempfile::tempdir().unwrap();
    let both_keys = keys.path().join("both.txt");
    fs::write(
        &both_keys,
        [fs::read(key(1)).unwrap(), fs::read(key(2)).unwrap()].concat(),
    )
    .unwrap();
    both.file("g.yaml", "a: 1\nb: two\n");
    both.ok(&["encrypt", "-i", "g.yaml"]);
    // Adding a group to a one-group file makes two Shamir groups; no threshold was given, so
    // (sops's rule) every group is needed: R1's key alone no longer opens the file, both do.
    both.ok(&["groups", "add", "--file", "g.yaml", "-i", "--age", R2]);
    for (who, dir) in both.dirs.iter().map(|(w, d)| (*w, d.path())) {
        let text = read(dir, "g.yaml");
        assert!(text.contains("shamir_threshold: 2"), "{who}: {text}");
        for reader in ["sops", "tollgate"] {
            let o = run(tool(reader)
                .env("SOPS_AGE_KEY_FILE", key(1))
                .args(["decrypt", "g.yaml"])
                .current_dir(dir));
            assert_eq!(code(&o), 128, "{reader} on {who}'s with one key");
            let out = ok(run(tool(reader)
                .env("SOPS_AGE_KEY_FILE", &both_keys)
                .args(["decrypt", "g.yaml"])
                .current_dir(dir)));
            assert_eq!(out, b"a: 1\nb: two\n", "{reader} on {who}'s with both keys");
        }
    }
    // Deleting group 0 with a threshold of 1: R2's key alone opens it, and the MAC (over the
    // unchanged values, with the unchanged data key) still verifies.
    for (who, _, o) in both.run_with(
        &[
            "groups",
            "delete",
            "--file",
            "g.yaml",
            "-i",
            "--shamir-secret-sharing-threshold",
            "1",
            "0",
        ],
        |c| {
            c.env("SOPS_AGE_KEY_FILE", &both_keys);
        },
    ) {
        assert!(o.status.success(), "{who}: {}", stderr(&o));
    }
    for (who, dir) in both.dirs.iter().map(|(w, d)| (*w, d.path())) {
        let text = read(dir, "g.yaml");
        assert!(!text.contains(R1) && text.contains(R2), "{who}: {text}");
        for reader in ["sops", "tollgate"] {
            let out = ok(run(tool(reader)
                .env("SOPS_AGE_KEY_FILE", key(2))
                .args(["decrypt", "g.yaml"])
                .current_dir(dir)));
            assert_eq!(out, b"a: 1\nb: two\n", "{reader} on {who}'s");
        }
    }
    // Deleting the last group would leave a threshold of 1 with none: refused by both.
    for (who, _, o) in both.run_with(&["groups", "delete", "--file", "g.yaml", "0"], |c| {
        c.env("SOPS_AGE_KEY_FILE", key(2));
    }) {
        assert!(!o.status.success(), "{who}");
    }
}

#[test]
fn exec_commands_run_as_another_user_when_root_asks() {
    // --user switches the command to the user's uid and gid with the user's HOME, USER and
    // LOGNAME (as sops 3.13 sets them), and exec-file hands that user the FIFO. Only root may switch: anyone else gets
    // exit 1 from both tools, before the command runs.
    let both = Both::new();
    both.file("u.yaml", EXEC_PLAIN);
    both.ok(&["encrypt", "-i", "u.yaml"]);
    let root = String::from_utf8(ok(run(Command::new("id").arg("-u")))).unwrap() == "0\n";
    let script = "echo \"$(id -u) $USER $foo\"";
    for (who, _, o) in both.run(&["exec-env", "--user", "nobody", "u.yaml", script]) {
        if root {
            let nobody =
                String::from_utf8(ok(run(Command::new("id").args(["-u", "nobody"])))).unwrap();
            // sops sets USER (and HOME, LOGNAME) since 3.13; the pinned 3.11 leaves them.
            let user = if who == "sops" { "" } else { "nobody" };
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                format!("{} {user} bar\n", nobody.trim()),
                "{who}: {}",
                stderr(&o)
            );
        } else {
            assert_eq!(code(&o), 1, "{who}: {}", stderr(&o));
            assert!(o.stdout.is_empty(), "{who}");
        }
    }
    if root {
        let plain = both.ok(&["decrypt", "u.yaml"]);
        let ran = both.ok(&["exec-file", "--user", "nobody", "u.yaml", "id -un; cat {}"]);
        for ((who, _, out), (_, _, plain)) in ran.iter().zip(&plain) {
            assert_eq!(out, &[&b"nobody\n"[..], plain].concat(), "{who}");
        }
    }
}

#[test]
fn times_ini_values_idempotent_sets_stdin_and_binary_as_the_functional_tests_expect() {
    let both = Both::new();
    // test_yaml_time: a date and a time with an odd offset, through encrypt -i / decrypt -i:
    // yaml.v3 reads both as timestamps and writes them in RFC 3339.
    both.file("time.yaml", "a: 2024-01-01\nb: 2006-01-02T15:04:05+07:06");
    both.ok(&["encrypt", "-i", "time.yaml"]);
    both.ok(&["decrypt", "-i", "time.yaml"]);
    for (who, d) in &both.dirs {
        assert_eq!(
            read(d.path(), "time.yaml"),
            "a: 2024-01-01T00:00:00Z\nb: 2006-01-02T15:04:05+07:06\n",
            "{who}"
        );
    }
    // test_ini_values_as_strings: typed YAML values written as INI, aligned as go-ini aligns.
    both.file(
        "ini.yaml",
        "the_section:\n  int: 123\n  float: 1.23\n  bool: true\n  date: 2025-01-02\n  timestamp: 2025-01-02 03:04:05\n  utc_timestamp: 2025-01-02T03:04:05Z\n  string: this is a string",
    );
    both.ok(&["encrypt", "-i", "ini.yaml"]);
    for (who, _, out) in both.ok(&["decrypt", "--output-type", "ini", "ini.yaml"]) {
        assert_eq!(
            String::from_utf8_lossy(&out),
            "[the_section]\nint           = 123\nfloat         = 1.23\nbool          = true\ndate          = 2025-01-02T00:00:00Z\ntimestamp     = 2025-01-02T03:04:05Z\nutc_timestamp = 2025-01-02T03:04:05Z\nstring        = this is a string\n",
            "{who}"
        );
    }
    // set_json_file_update_idempotent_nowrite / _write: the same value leaves the bytes alone
    // (even with --output-type yaml); a new one is written.
    both.file("idem.json", r#"{"a": 2, "b": "ba"}"#);
    both.ok(&["encrypt", "-i", "idem.json"]);
    let before: Vec<String> = both
        .dirs
        .iter()
        .map(|(_, d)| read(d.path(), "idem.json"))
        .collect();
    both.ok(&[
        "set",
        "--output-type",
        "yaml",
        "--idempotent",
        "idem.json",
        r#"["b"]"#,
        r#""ba""#,
    ]);
    for ((who, d), old) in both.dirs.iter().zip(&before) {
        assert_eq!(&read(d.path(), "idem.json"), old, "{who}: not rewritten");
    }
    both.ok(&["set", "--idempotent", "idem.json", r#"["b"]"#, r#""bb""#]);
    for (who, _, out) in both.ok(&["decrypt", "--extract", r#"["b"]"#, "idem.json"]) {
        assert_eq!(out, b"bb", "{who}");
    }
    // encrypt_from_stdin (sops needs --filename-override there, for the rule and the format;
    // tollgate also accepts stdin without it) and decrypt_from_stdin with the types given.
    let mut piped: Vec<(&str, Vec<u8>)> = Vec::new();
    for (who, d) in &both.dirs {
        let enc = pipe(
            who,
            d.path(),
            &["encrypt", "--filename-override", "in.json"],
            br#"{"k": "v"}"#,
        );
        let dec = pipe(
            who,
            d.path(),
            &["decrypt", "--input-type", "json", "--output-type", "json"],
            &enc,
        );
        piped.push((who, dec));
    }
    for (who, dec) in &piped {
        assert_eq!(
            String::from_utf8_lossy(dec),
            "{\n\t\"k\": \"v\"\n}\n",
            "{who}"
        );
    }
    // roundtrip_binary and output_flag.
    let data = b"\"\"{}this_is_binary_data";
    for (_, d) in &both.dirs {
        fs::write(d.path().join("test.binary"), data).unwrap();
    }
    for (who, dir, out) in both.ok(&["encrypt", "--output", "out.binary", "test.binary"]) {
        assert!(out.is_empty(), "{who}: stdout stays empty");
        assert!(read(&dir, "out.binary").contains("sops"), "{who}");
    }
    for (who, _, out) in both.ok(&["decrypt", "out.binary"]) {
        assert_eq!(out, data, "{who}");
    }
}

/// Runs `args` with `input` on stdin (R1's key available) and returns stdout.
fn pipe(who: &str, dir: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = tool(who)
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", key(1))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
    ok(child.wait_with_output().unwrap())
}
