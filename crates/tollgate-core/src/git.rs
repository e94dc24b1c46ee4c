//! The git plumbing the enforcement points need, through the `git` the user has: the merge
//! base of a pull request, a commit or the index written out to a directory (through a
//! temporary index file, so the user's work tree and index are never touched), renames, and
//! the staged files of a commit in progress.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Git names files relative to the repository root; findings name them relative to the
/// working directory. This turns the one into the other for a run from `cwd`.
#[derive(Debug, Clone)]
pub struct Names {
    root: PathBuf,
    cwd: PathBuf,
}

impl Names {
    /// A root-relative path as findings name it.
    pub fn name(&self, root_relative: &str) -> String {
        let abs = self.root.join(root_relative);
        abs.strip_prefix(&self.cwd)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| abs.display().to_string())
    }

    /// The working directory relative to the root (empty at the root).
    pub fn inside(&self) -> PathBuf {
        self.cwd
            .strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The repository root, by its real path.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// A git work tree.
#[derive(Debug, Clone)]
pub struct Repo {
    /// Its top-level directory.
    pub root: PathBuf,
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new(std::env::var_os("TOLLGATE_GIT").unwrap_or_else(|| "git".into()));
    c.current_dir(dir);
    // Hooks run git with these set; a command of ours must see the repository they name only
    // through its own arguments.
    c.env_remove("GIT_INDEX_FILE");
    c
}

fn run(mut c: Command, what: &str) -> Result<Vec<u8>, String> {
    let out = c
        .output()
        .map_err(|e| format!("cannot run git ({what}): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// The fields of git's `-z` output (NUL-separated), empty ones dropped.
fn nul_fields(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

impl Repo {
    /// The repository `dir` is in.
    pub fn discover(dir: &Path) -> Result<Repo, String> {
        let mut c = git(dir);
        c.args(["rev-parse", "--show-toplevel"]);
        let root = text(
            run(c, "rev-parse")
                .map_err(|e| format!("{e} (is {} in a git repository?)", dir.display()))?,
        );
        Ok(Repo {
            root: PathBuf::from(root),
        })
    }

    /// How files of this repository are named from `cwd` (both by their real paths).
    pub fn names(&self, cwd: &Path) -> Names {
        Names {
            root: std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone()),
            cwd: std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf()),
        }
    }

    /// The merge base of `a` and `b` (a branch, tag or commit).
    pub fn merge_base(&self, a: &str, b: &str) -> Result<String, String> {
        let mut c = git(&self.root);
        c.args(["merge-base", a, b]);
        run(c, &format!("merge-base {a} {b}")).map(text)
    }

    /// Writes the tree of `commit` below `dest` from git's objects.
    pub fn export_commit(&self, commit: &str, dest: &Path) -> Result<(), String> {
        let index = tempfile::NamedTempFile::new()
            .map_err(|e| format!("cannot create a temporary index: {e}"))?;
        let mut read = git(&self.root);
        read.env("GIT_INDEX_FILE", index.path())
            .args(["read-tree", commit]);
        run(read, "read-tree")?;
        self.checkout_index(Some(index.path()), dest)
    }

    /// Writes the staged state (the index) below `dest`.
    pub fn export_index(&self, dest: &Path) -> Result<(), String> {
        self.checkout_index(None, dest)
    }

    fn checkout_index(&self, index: Option<&Path>, dest: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        let mut prefix = dest.display().to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        let mut c = git(&self.root);
        if let Some(i) = index {
            c.env("GIT_INDEX_FILE", i);
        }
        c.args([
            "checkout-index",
            "--all",
            "--force",
            &format!("--prefix={prefix}"),
        ]);
        run(c, "checkout-index").map(|_| ())
    }

    /// What differs between `commit` and the work tree (the index included), relative to the
    /// root: `(status letter, path in commit, path now)`; renames are followed.
    pub fn changes_since(&self, commit: &str) -> Result<Vec<(char, String, String)>, String> {
        let mut c = git(&self.root);
        c.args(["diff", "--name-status", "-M", "-z", commit]);
        let fields = nul_fields(&run(c, "diff")?);
        let mut changes = Vec::new();
        let mut it = fields.into_iter();
        while let Some(status) = it.next() {
            let letter = status.chars().next().unwrap_or('M');
            if matches!(letter, 'R' | 'C') {
                if let (Some(old), Some(new)) = (it.next(), it.next()) {
                    changes.push((letter, old, new));
                }
            } else if let Some(path) = it.next() {
                changes.push((letter, path.clone(), path));
            }
        }
        Ok(changes)
    }

    /// Files in the work tree git does not track (and does not ignore), relative to the root.
    pub fn untracked(&self) -> Result<Vec<String>, String> {
        let mut c = git(&self.root);
        c.args(["ls-files", "--others", "--exclude-standard", "-z"]);
        Ok(nul_fields(&run(c, "ls-files")?))
    }

    /// The contents of `paths` (relative to the root) at `commit`, read from git's objects in
    /// one `git cat-file --batch`; a path the commit does not have is left out.
    pub fn read_at(
        &self,
        commit: &str,
        paths: &[String],
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        use std::io::{BufRead, Read, Write};
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = git(&self.root);
        c.args(["cat-file", "--batch"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        let mut child = c
            .spawn()
            .map_err(|e| format!("cannot run git cat-file: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("git cat-file: no stdin")?;
        let requests: String = paths.iter().map(|p| format!("{commit}:{p}\n")).collect();
        // Written from a thread: git answers while it reads, and both pipes have limits.
        let writer = std::thread::spawn(move || stdin.write_all(requests.as_bytes()));
        let stdout = child.stdout.take().ok_or("git cat-file: no stdout")?;
        let mut reader = std::io::BufReader::new(stdout);
        let mut out = Vec::new();
        for p in paths {
            let mut header = String::new();
            if reader.read_line(&mut header).map_err(|e| e.to_string())? == 0 {
                break;
            }
            // `<sha> blob <size>` or `<object> missing`.
            let mut parts = header.split_whitespace();
            let (_, kind, size) = (parts.next(), parts.next(), parts.next());
            if kind != Some("blob") {
                continue;
            }
            let size: usize = size
                .and_then(|s| s.parse().ok())
                .ok_or("git cat-file: bad header")?;
            let mut body = vec![0u8; size];
            reader.read_exact(&mut body).map_err(|e| e.to_string())?;
            let mut newline = [0u8; 1];
            reader.read_exact(&mut newline).map_err(|e| e.to_string())?;
            out.push((p.clone(), body));
        }
        let _ = writer.join();
        let _ = child.wait();
        Ok(out)
    }

    /// Files added, copied, modified or renamed in the index (relative to the root).
    pub fn staged(&self) -> Result<Vec<String>, String> {
        let mut c = git(&self.root);
        c.args([
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--diff-filter=ACMR",
        ]);
        Ok(nul_fields(&run(c, "diff --cached")?))
    }
}
