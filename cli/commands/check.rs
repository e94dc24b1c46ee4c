//! `tollgate check`: load manifests, evaluate policies in parallel, write every requested
//! report, and exit 0 (clean), 1 (findings at or above `--fail-on`) or 2 (errors).

use super::query::{usage, written};
use crate::output;
use clap::{ArgMatches, Args};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use tollgate_core::change::{self, Changes};
use tollgate_core::config::Config;
use tollgate_core::engine::rego;
use tollgate_core::finding::{ResourceRef, Severity};
use tollgate_core::git;
use tollgate_core::manifest::{scan, ScanOptions};
use tollgate_core::policyset::{Evaluation, Filters, PolicySet, Sources};
use tollgate_core::report::{self, Format, HumanOptions, Report, RuleInfo};
use tollgate_core::suppress::Baseline;
use tollgate_core::Error;
use tollgate_sops::fsio::write_atomic;

/// The default wall-clock limit for evaluating one resource (`--eval-timeout`), in seconds.
pub(crate) const EVAL_TIMEOUT_SECONDS: f64 = 10.0;

/// Where the policies come from, shared by every command that evaluates them (`check`,
/// `webhook review`, `webhook serve`), so they read the same flags the same way.
#[derive(Args)]
pub(crate) struct PolicyArgs {
    /// Directory or file of Rego policies (repeatable); `*_test.rego` files are skipped.
    #[arg(short, long, value_name = "PATH")]
    policy: Vec<PathBuf>,
    /// Bundled policy pack to evaluate (repeatable; `tollgate rules list` shows them). Without
    /// any --policy, --pack or configured policies, every bundled pack is used.
    #[arg(long, value_name = "NAME")]
    pack: Vec<String>,
    /// Rego package to evaluate (repeatable; globs as conftest takes them: `'*'`, `'k8s.*'`;
    /// default `main`).
    #[arg(short, long, value_name = "PACKAGE")]
    namespace: Vec<String>,
    /// Evaluate every package that has `deny`, `violation` or `warn` rules.
    #[arg(long)]
    all_namespaces: bool,
    /// YAML or JSON file merged into `data` (repeatable).
    #[arg(short, long, value_name = "FILE")]
    data: Vec<PathBuf>,
    /// The configuration file (default: tollgate.yaml found upwards from here).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Wall-clock limit for evaluating one resource, in seconds; a rule that runs longer is
    /// reported as an error and the run goes on.
    #[arg(long, value_name = "SECONDS", default_value_t = EVAL_TIMEOUT_SECONDS)]
    eval_timeout: f64,
    /// Registry host (with its port) to reach over plain HTTP when checking image signatures
    /// (repeatable; also `images.insecure_registries`). Everything else is HTTPS.
    #[arg(long, value_name = "HOST")]
    allow_insecure_registry: Vec<String>,
    /// Check image signatures from the cache only: nothing is asked of a registry, and what
    /// the cache cannot answer is reported as not verified offline (IMG008).
    #[arg(long)]
    offline: bool,
}

impl PolicyArgs {
    /// The files a running server watches for changes: the policy paths, the data files and
    /// the configuration itself.
    pub(crate) fn watched(&self, config: &Config) -> Vec<PathBuf> {
        let mut out = if self.policy.is_empty() {
            config.policies.clone()
        } else {
            self.policy.clone()
        };
        out.extend(self.data.iter().cloned());
        out.extend(config.data.iter().cloned());
        out.extend(config.path.iter().cloned());
        out
    }

    /// The policy sources these flags and `config` name: the command line's policies, else
    /// the configuration's; the bundled packs when neither names any.
    pub(crate) fn sources(&self, config: &Config, combine: bool) -> Result<Sources, Error> {
        let paths = if self.policy.is_empty() {
            config.policies.clone()
        } else {
            self.policy.clone()
        };
        let opts = rego::Options {
            namespaces: if self.namespace.is_empty() {
                config.namespaces.clone()
            } else {
                self.namespace.clone()
            },
            all_namespaces: self.all_namespaces || config.all_namespaces,
            data_files: [self.data.clone(), config.data.clone()].concat(),
            timeout: Some(timeout(self.eval_timeout)?),
            packs: packs_for(
                &self.pack,
                config,
                self.policy.is_empty() && config.policies.is_empty(),
            )?,
        };
        Ok(Sources {
            paths,
            rego: opts,
            combine,
            images: crate::registry::access(self.offline, &self.allow_insecure_registry),
        })
    }
}

/// What to read, shared by `check` and `secrets audit`.
#[derive(Args)]
pub(crate) struct InputArgs {
    /// Manifest files or directories (walked honouring .gitignore); `-` reads stdin. With
    /// --staged, the files to report on (default: every staged file).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Check what the cluster receives: render every Kustomize root, Flux Kustomization and
    /// Argo CD Application under the paths (with `kustomize` or `kubectl` from PATH) and
    /// locate findings on the source files (also `render: true` in tollgate.yaml).
    #[arg(long)]
    render: bool,
    /// Check the staged state of the repository (git's index, not the work tree), as a
    /// pre-commit hook: the whole repository is read so rules over the set see it all;
    /// findings are reported for the named (or staged) files only.
    #[arg(long, conflicts_with = "new_since")]
    staged: bool,
    /// Fail only on what the change adds: findings of the merge base of REF and HEAD (read
    /// from git objects) are subtracted; RBAC grants and network paths the change opens are
    /// reported (ACCESS001, ACCESS002).
    #[arg(long, value_name = "REF")]
    new_since: Option<String>,
    /// Succeed when the paths hold no resource (by default reading nothing is an error, so a
    /// broken `kustomize build | tollgate check -` cannot pass).
    #[arg(long)]
    allow_empty: bool,
    /// Read Kubernetes objects only: documents without `apiVersion` and `kind` (compose
    /// files, Terraform plans, plain data) are skipped instead of given to Rego policies
    /// (which see every document by default, as conftest does).
    #[arg(long)]
    kubernetes_only: bool,
}

/// How to report, shared by `check` and `secrets audit`.
#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Report format: human, short, json, sarif, junit, github, gitlab (repeatable, each with
    /// its own --output).
    #[arg(short, long, value_name = "FORMAT", action = clap::ArgAction::Append)]
    format: Vec<String>,
    /// Write the report of the preceding --format to this file instead of stdout.
    #[arg(short, long, value_name = "FILE", action = clap::ArgAction::Append)]
    output: Vec<PathBuf>,
    /// Lowest severity that fails the run: error, warning or info.
    #[arg(long, value_name = "SEVERITY", default_value = "error")]
    fail_on: String,
    /// List findings waived by exceptions, not only count them.
    #[arg(long)]
    show_suppressed: bool,
    /// List the files not checked as they are (kustomize configuration, patches, ignored,
    /// excluded, rendered), not only count them.
    #[arg(long)]
    show_skipped: bool,
    /// Colour in the human report: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    color: String,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    policies: PolicyArgs,
    /// Evaluate the rules once over all inputs (`input` is `[{path, contents}]`), as conftest.
    #[arg(long)]
    combine: bool,
    /// Ignore `tollgate.dev/ignore` annotations on resources.
    #[arg(long)]
    no_annotation_exemptions: bool,
    /// Findings already in this baseline do not fail the run.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write every current finding to this baseline file.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    #[command(flatten)]
    report: ReportArgs,
}

/// `secrets audit`: the secrets pack alone, whatever tollgate.yaml's policies are.
#[derive(Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The configuration file (default: tollgate.yaml found upwards from here); its
    /// excludes, severities and exceptions apply, its policies do not.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also decrypt every SOPS file in memory (never to disk) with the keys at hand
    /// (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, the default keys file) and verify its MAC (SOPS007).
    #[arg(long)]
    verify_mac: bool,
    #[command(flatten)]
    report: ReportArgs,
}

/// Pairs each `--output` with the `--format` before it on the command line.
fn pairs(a: &ReportArgs, m: &ArgMatches) -> Result<Vec<(Format, Option<PathBuf>)>, Error> {
    let f_idx: Vec<usize> = m
        .indices_of("format")
        .map(Iterator::collect)
        .unwrap_or_default();
    let o_idx: Vec<usize> = m
        .indices_of("output")
        .map(Iterator::collect)
        .unwrap_or_default();
    let mut out: Vec<(Format, Option<PathBuf>)> = Vec::new();
    for (name, _) in a.format.iter().zip(&f_idx) {
        let f = Format::parse(name).ok_or_else(|| {
            usage(format!(
                "unknown format `{name}`: use human, short, json, sarif, junit, github or gitlab"
            ))
        })?;
        out.push((f, None));
    }
    if out.is_empty() {
        out.push((Format::Human, None));
    }
    for (path, oi) in a.output.iter().zip(&o_idx) {
        let owner = f_idx.iter().rposition(|fi| fi < oi).unwrap_or(0);
        let slot = out
            .get_mut(owner)
            .ok_or_else(|| usage("--output needs a --format before it"))?;
        if slot.1.is_some() {
            return Err(usage("two --output files for one --format"));
        }
        slot.1 = Some(path.clone());
    }
    if out.iter().filter(|(_, o)| o.is_none()).count() > 1 {
        return Err(usage(
            "only one report can go to stdout; give the others an --output file",
        ));
    }
    Ok(out)
}

pub(crate) fn timeout(seconds: f64) -> Result<std::time::Duration, Error> {
    std::time::Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            usage(format!(
                "--eval-timeout must be a positive number of seconds, not {seconds}"
            ))
        })
}

/// The packs to use: named ones, or all of them when nothing else says what to check.
pub(crate) fn packs_for(
    cli: &[String],
    config: &Config,
    no_policies: bool,
) -> Result<Vec<&'static tollgate_core::packs::Pack>, Error> {
    let names: Vec<&String> = if cli.is_empty() {
        config.packs.iter().collect()
    } else {
        cli.iter().collect()
    };
    if names.is_empty() {
        return Ok(if no_policies {
            tollgate_core::packs::PACKS.iter().collect()
        } else {
            Vec::new()
        });
    }
    names
        .into_iter()
        .map(|n| tollgate_core::packs::find(n).ok_or_else(|| Error::UnknownPack(n.clone())))
        .collect()
}

pub(crate) fn load_config(explicit: Option<&std::path::Path>) -> Result<Config, Error> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::current_dir()
            .ok()
            .and_then(|d| tollgate_core::config::find(&d)),
    };
    match path {
        Some(p) => Ok(Config::load(&p)?),
        None => Ok(Config {
            annotation_exemptions: true,
            ..Config::default()
        }),
    }
}

/// The merge base's side of `--new-since`: its resources and the renames since.
struct MergeBase {
    resources: Vec<tollgate_core::manifest::Resource>,
    renames: HashMap<String, String>,
    /// The files (either side's names) that differ, when the base was read file by file.
    changed: Option<std::collections::HashSet<String>>,
    // The exported tree, when one was written; removed when the run is done with it.
    _tree: Option<tempfile::TempDir>,
}

/// The merge base of `reference` and HEAD, scanned with the same paths and options, read
/// from git's objects (the work tree and the index are not touched). Files the branch did
/// not change are the work tree's, already loaded in `head`: only the changed ones are read
/// from git. A change to what decides how files are read (a kustomization, `.sops.yaml`,
/// `.sourceignore`), or rendering, writes the whole base tree out and scans it instead.
fn merge_base_tree(
    reference: &str,
    paths: &[PathBuf],
    opts: &ScanOptions,
    head: &tollgate_core::manifest::Inventory,
) -> Result<MergeBase, Error> {
    let git_error = |e: String| Error::Usage(format!("--new-since {reference}: {e}"));
    let cwd = std::env::current_dir().map_err(|e| git_error(e.to_string()))?;
    let repo = git::Repo::discover(&cwd).map_err(git_error)?;
    let base = repo.merge_base(reference, "HEAD").map_err(git_error)?;
    let changes = Changes::read(&repo, &base, &cwd).map_err(git_error)?;
    let renames = changes.renames();
    let stdin = paths.iter().any(|p| p.as_os_str() == "-");
    if !(opts.render || stdin || changes.affect_how_files_are_read()) {
        let (resources, changed) = change::base_resources(
            &repo,
            &base,
            &changes,
            head,
            paths,
            &opts.exclude,
            !opts.kubernetes_only,
        )
        .map_err(git_error)?;
        return Ok(MergeBase {
            resources,
            renames,
            changed: Some(changed),
            _tree: None,
        });
    }
    let tree = tempfile::Builder::new()
        .prefix("tollgate-base-")
        .tempdir()
        .map_err(|e| git_error(e.to_string()))?;
    repo.export_commit(&base, tree.path()).map_err(git_error)?;
    let root = changes.names.root();
    let inside = changes.names.inside();
    let base_cwd = tree.path().join(&inside);
    // Paths keep their meaning in the base tree: relative ones as they are (from the same
    // place), absolute ones inside the repository moved into it.
    let base_paths: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            match std::fs::canonicalize(p)
                .ok()
                .and_then(|a| a.strip_prefix(root).ok().map(Path::to_path_buf))
            {
                Some(rel) if p.is_absolute() => tree.path().join(rel),
                _ => p.clone(),
            }
        })
        .collect();
    // The scan names files relative to the working directory; running it from the same place
    // in the base tree gives the base's findings the branch's names.
    std::fs::create_dir_all(&base_cwd).map_err(|e| git_error(e.to_string()))?;
    let inventory = {
        let _inside = InDir::enter(&base_cwd).map_err(git_error)?;
        scan(&base_paths, opts).map_err(|e| usage(e.to_string()))?
    };
    Ok(MergeBase {
        resources: inventory.resources,
        renames,
        changed: None,
        _tree: Some(tree),
    })
}

/// The staged side of `--staged`: the repository as git's index has it, scanned whole.
struct Staged {
    inventory: tollgate_core::manifest::Inventory,
    /// Files findings are reported for (relative to the working directory); a directory
    /// stands for the files below it.
    report_on: Vec<PathBuf>,
    /// Where the staged files are, for the excerpts of the human report.
    tree: PathBuf,
    _dir: tempfile::TempDir,
}

/// Writes the index out and scans the whole repository at its staged state, from the same
/// place in that tree (so files keep their names).
fn staged_tree(paths: &[PathBuf], opts: &ScanOptions) -> Result<Staged, Error> {
    let git_error = |e: String| Error::Usage(format!("--staged: {e}"));
    let cwd = std::env::current_dir().map_err(|e| git_error(e.to_string()))?;
    let repo = git::Repo::discover(&cwd).map_err(git_error)?;
    let dir = tempfile::Builder::new()
        .prefix("tollgate-staged-")
        .tempdir()
        .map_err(|e| git_error(e.to_string()))?;
    repo.export_index(dir.path()).map_err(git_error)?;
    let names = repo.names(&cwd);
    let inside = names.inside();
    let tree = dir.path().join(&inside);
    // The whole repository: rules over the set judge a staged RoleBinding with the Role in a
    // file that is not staged.
    let up: PathBuf = inside.components().map(|_| "..").collect();
    let whole = if up.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        up
    };
    std::fs::create_dir_all(&tree).map_err(|e| git_error(e.to_string()))?;
    // As for --new-since: the scan names files relative to the working directory.
    let inventory = {
        let _inside = InDir::enter(&tree).map_err(git_error)?;
        scan(&[whole], opts).map_err(|e| usage(e.to_string()))?
    };
    let report_on = if paths == [PathBuf::from(".")] {
        repo.staged()
            .map_err(git_error)?
            .iter()
            .map(|f| PathBuf::from(names.name(f)))
            .collect()
    } else {
        paths
            .iter()
            .map(|p| tollgate_core::render::kustomization::normalize(p))
            .collect()
    };
    Ok(Staged {
        inventory,
        report_on,
        tree,
        _dir: dir,
    })
}

/// The working directory moved for the length of a scope and moved back after. The binary
/// owns its working directory; nothing else runs while it is moved.
struct InDir {
    back: PathBuf,
}

impl InDir {
    fn enter(dir: &Path) -> Result<InDir, String> {
        let back = std::env::current_dir().map_err(|e| e.to_string())?;
        std::env::set_current_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(InDir { back })
    }
}

impl Drop for InDir {
    fn drop(&mut self) {
        let _ = std::env::set_current_dir(&self.back);
    }
}

/// Whether `file` (as findings name it) is one of `report_on`, or below one of them.
fn reported(report_on: &[PathBuf], file: &str) -> bool {
    let f = Path::new(file);
    report_on.iter().any(|p| f == p || f.starts_with(p))
}

/// One run of `check` or `secrets audit`, once the flags are read.
struct Job<'a> {
    input: &'a InputArgs,
    report: &'a ReportArgs,
    config: Config,
    sources: Sources,
    annotations: bool,
    baseline: Option<&'a Path>,
    write_baseline: Option<&'a Path>,
}

pub(crate) fn run(a: &CheckArgs, m: &ArgMatches) -> Result<u8, Error> {
    let config = load_config(a.policies.config.as_deref())?;
    // Rego and Kyverno policies come from the same paths: the command line's, else the config's.
    let sources = a.policies.sources(&config, a.combine)?;
    execute(
        Job {
            input: &a.input,
            report: &a.report,
            annotations: config.annotation_exemptions && !a.no_annotation_exemptions,
            config,
            sources,
            baseline: a.baseline.as_deref(),
            write_baseline: a.write_baseline.as_deref(),
        },
        m,
    )
}

/// `secrets audit`: the same run with the `secrets` pack as the only policy source.
pub(crate) fn audit(a: &AuditArgs, m: &ArgMatches) -> Result<u8, Error> {
    let mut config = load_config(a.config.as_deref())?;
    config.secrets.verify_mac = a.verify_mac;
    let pack = tollgate_core::packs::find("secrets")
        .ok_or_else(|| Error::UnknownPack("secrets".into()))?;
    let sources = Sources {
        paths: Vec::new(),
        rego: rego::Options {
            packs: vec![pack],
            timeout: Some(timeout(EVAL_TIMEOUT_SECONDS)?),
            ..rego::Options::default()
        },
        combine: false,
        images: Default::default(),
    };
    execute(
        Job {
            input: &a.input,
            report: &a.report,
            annotations: config.annotation_exemptions,
            config,
            sources,
            baseline: None,
            write_baseline: None,
        },
        m,
    )
}

fn execute(job: Job<'_>, m: &ArgMatches) -> Result<u8, Error> {
    let Job {
        input,
        report: rep_args,
        config,
        sources,
        annotations,
        baseline,
        write_baseline,
    } = job;
    let outputs = pairs(rep_args, m)?;
    let fail_on = Severity::parse(&rep_args.fail_on).ok_or_else(|| {
        usage(format!(
            "unknown severity `{}`: use error, warning or info",
            rep_args.fail_on
        ))
    })?;
    let color = match rep_args.color.as_str() {
        "always" => true,
        "never" => false,
        "auto" => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
        other => {
            return Err(usage(format!(
                "unknown --color `{other}`: use auto, always or never"
            )))
        }
    };
    let policies = PolicySet::load(&sources, &config).map_err(Error::Policies)?;
    for note in policies.notes() {
        output::warn(note);
    }
    let baseline = baseline.map(Baseline::load).transpose()?;
    let scan_options = ScanOptions {
        exclude: config.exclude.clone(),
        render: input.render || config.render,
        argocd_repos: config.argocd_repos.clone(),
        kubernetes_only: input.kubernetes_only,
    };
    let (mut inventory, report_on, staged_tree_dir) = if input.staged {
        let s = staged_tree(&input.paths, &scan_options)?;
        (s.inventory, Some(s.report_on), Some((s.tree, s._dir)))
    } else {
        let inventory = scan(&input.paths, &scan_options).map_err(|e| usage(e.to_string()))?;
        (inventory, None, None)
    };
    // A commit that stages no manifest has nothing to check; elsewhere reading nothing is an
    // error (a failed `kustomize build` piped in must not pass).
    if inventory.resources.is_empty()
        && inventory.errors.is_empty()
        && !input.allow_empty
        && report_on.is_none()
    {
        let what: Vec<String> = input
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(Error::Empty(what.join(" ")));
    }
    for note in &inventory.notes {
        output::warn(note);
    }
    let today = tollgate_core::suppress::today_utc();
    let filters = Filters {
        annotations,
        baseline: baseline.as_ref(),
        today: &today,
    };
    let Evaluation {
        mut findings,
        mut suppressed,
        errors: mut eval_errors,
        expired,
        ..
    } = match &input.new_since {
        None => {
            // Rules that read files beside the manifests (`.sops.yaml`) read the staged ones.
            let _inside = match &staged_tree_dir {
                Some((tree, _)) => Some(InDir::enter(tree).map_err(Error::Usage)?),
                None => None,
            };
            policies.evaluate(&inventory.resources, filters)
        }
        Some(reference) => {
            let base = merge_base_tree(reference, &input.paths, &scan_options, &inventory)?;
            policies.evaluate_change(
                &base.resources,
                &inventory.resources,
                &base.renames,
                base.changed.as_ref(),
                filters,
            )
        }
    };
    let mut load_errors = std::mem::take(&mut inventory.errors);
    if let Some(on) = &report_on {
        // The whole repository was judged; a commit answers for the files it stages.
        findings.retain(|f| reported(on, &f.location.file));
        suppressed.retain(|f| reported(on, &f.location.file));
        let place = |at: &str| at.rsplit_once(':').map_or(at, |(f, _)| f).to_owned();
        eval_errors.retain(|e| reported(on, &place(&e.file)));
        load_errors.retain(|e| reported(on, &e.file));
    }
    if let Some(path) = write_baseline {
        let known: Vec<_> = findings
            .iter()
            .chain(
                suppressed
                    .iter()
                    .filter(|f| f.suppressed_by.as_deref() == Some("baseline")),
            )
            .cloned()
            .collect();
        write_atomic(path, Baseline::render(&known).as_bytes(), 0o644)
            .map_err(written(&path.display().to_string()))?;
    }
    for note in &expired {
        output::warn(note);
    }
    let failing = findings.iter().any(|f| f.severity >= fail_on);
    let exit_code = if !load_errors.is_empty() || !eval_errors.is_empty() {
        2
    } else {
        u8::from(failing)
    };
    let evaluated: Vec<(String, String)> = inventory
        .resources
        .iter()
        .filter(|r| {
            report_on
                .as_ref()
                .is_none_or(|on| reported(on, &r.origin.file))
        })
        .map(|r| (r.origin.file.to_string(), ResourceRef::of(r).display()))
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    let rules: Vec<RuleInfo> = policies
        .rules()
        .into_iter()
        .map(|r| RuleInfo {
            id: r.id,
            title: r.title,
            severity: r.severity,
            help_uri: r.help_uri,
        })
        .collect();
    let rep = Report {
        rules: &rules,
        findings: &findings,
        suppressed: &suppressed,
        show_suppressed: rep_args.show_suppressed,
        errors: &load_errors,
        eval_errors: &eval_errors,
        expired: &expired,
        files: inventory.files,
        resources: inventory.resources.len(),
        skipped: &inventory.skipped,
        show_skipped: rep_args.show_skipped,
        roots: inventory.roots.len(),
        evaluated: &evaluated,
        exit_code,
        version,
    };
    for (format, path) in outputs {
        let human = HumanOptions {
            color: color && path.is_none(),
            // Excerpts show what is staged, not what the work tree holds.
            sources: staged_tree_dir.as_ref().map(|(tree, _)| tree.clone()),
        };
        match path {
            Some(p) => write_atomic(&p, report::render(format, &rep, &human).as_bytes(), 0o644)
                .map_err(written(&p.display().to_string()))?,
            None => output::stdout_with(|out| report::write(format, &rep, &human, out))
                .map_err(written("stdout"))?,
        }
    }
    // The process ends right after this: freeing a large run's documents and findings one
    // allocation at a time would only delay the exit.
    std::mem::forget((findings, suppressed, evaluated, inventory, policies));
    Ok(exit_code)
}
