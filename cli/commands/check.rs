//! `tollgate check`: load manifests, evaluate policies in parallel, write every requested
//! report, and exit 0 (clean), 1 (findings at or above `--fail-on`) or 2 (errors).

use super::query::{usage, written};
use crate::output;
use clap::{ArgMatches, Args};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
    /// Rego package to evaluate (repeatable; default `main`).
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
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    eval_timeout: f64,
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
        })
    }
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// Manifest files or directories (walked honouring .gitignore); `-` reads stdin.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    policies: PolicyArgs,
    /// Evaluate the rules once over all inputs (`input` is `[{path, contents}]`), as conftest.
    #[arg(long)]
    combine: bool,
    /// Check what the cluster receives: render every Kustomize root, Flux Kustomization and
    /// Argo CD Application under the paths (with `kustomize` or `kubectl` from PATH) and
    /// locate findings on the source files (also `render: true` in tollgate.yaml).
    #[arg(long)]
    render: bool,
    /// List the files not checked as they are (kustomize configuration, patches, ignored,
    /// excluded, rendered), not only count them.
    #[arg(long)]
    show_skipped: bool,
    /// Fail only on what the change adds: findings of the merge base of REF and HEAD (read
    /// from git objects) are subtracted; RBAC grants and network paths the change opens are
    /// reported (ACCESS001, ACCESS002).
    #[arg(long, value_name = "REF")]
    new_since: Option<String>,
    /// Succeed when the paths hold no resource (by default reading nothing is an error, so a
    /// broken `kustomize build | tollgate check -` cannot pass).
    #[arg(long)]
    allow_empty: bool,
    /// Report format: human, json, sarif, junit, github (repeatable, each with its own --output).
    #[arg(short, long, value_name = "FORMAT", action = clap::ArgAction::Append)]
    format: Vec<String>,
    /// Write the report of the preceding --format to this file instead of stdout.
    #[arg(short, long, value_name = "FILE", action = clap::ArgAction::Append)]
    output: Vec<PathBuf>,
    /// Lowest severity that fails the run: error, warning or info.
    #[arg(long, value_name = "SEVERITY", default_value = "error")]
    fail_on: String,
    /// Ignore `tollgate.dev/ignore` annotations on resources.
    #[arg(long)]
    no_annotation_exemptions: bool,
    /// Findings already in this baseline do not fail the run.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write every current finding to this baseline file.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// List findings waived by exceptions, not only count them.
    #[arg(long)]
    show_suppressed: bool,
    /// Colour in the human report: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    color: String,
}

/// Pairs each `--output` with the `--format` before it on the command line.
fn pairs(a: &CheckArgs, m: &ArgMatches) -> Result<Vec<(Format, Option<PathBuf>)>, Error> {
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
                "unknown format `{name}`: use human, json, sarif, junit or github"
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
    inventory: tollgate_core::manifest::Inventory,
    renames: HashMap<String, String>,
    // The exported tree, removed when the run is done with it.
    _tree: tempfile::TempDir,
}

/// Scans the same paths in the tree of the merge base of `reference` and HEAD, written out
/// from git's objects (the work tree and the index are not touched).
fn merge_base_tree(
    reference: &str,
    paths: &[PathBuf],
    opts: &ScanOptions,
) -> Result<MergeBase, Error> {
    let git_error = |e: String| Error::Usage(format!("--new-since {reference}: {e}"));
    let cwd = std::env::current_dir().map_err(|e| git_error(e.to_string()))?;
    let repo = git::Repo::discover(&cwd).map_err(git_error)?;
    let base = repo.merge_base(reference, "HEAD").map_err(git_error)?;
    let tree = tempfile::Builder::new()
        .prefix("tollgate-base-")
        .tempdir()
        .map_err(|e| git_error(e.to_string()))?;
    repo.export_commit(&base, tree.path()).map_err(git_error)?;
    let root = std::fs::canonicalize(&repo.root).unwrap_or(repo.root.clone());
    let cwd_real = std::fs::canonicalize(&cwd).unwrap_or(cwd.clone());
    let inside = cwd_real
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let base_cwd = tree.path().join(&inside);
    // Paths keep their meaning in the base tree: relative ones as they are (from the same
    // place), absolute ones inside the repository moved into it.
    let base_paths: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            match std::fs::canonicalize(p)
                .ok()
                .and_then(|a| a.strip_prefix(&root).ok().map(Path::to_path_buf))
            {
                Some(rel) if p.is_absolute() => tree.path().join(rel),
                _ => p.clone(),
            }
        })
        .collect();
    // The scan names files relative to the working directory; running it from the same place
    // in the base tree gives the base's findings the branch's names. The binary owns the
    // process's working directory, and nothing else runs while it is moved.
    std::fs::create_dir_all(&base_cwd).map_err(|e| git_error(e.to_string()))?;
    std::env::set_current_dir(&base_cwd).map_err(|e| git_error(e.to_string()))?;
    let scanned = scan(&base_paths, opts);
    std::env::set_current_dir(&cwd).map_err(|e| git_error(e.to_string()))?;
    let inventory = scanned.map_err(|e| usage(e.to_string()))?;
    // Renames are relative to the repository root; findings to the working directory.
    let to_cwd = |p: &str| -> String {
        let abs = root.join(p);
        abs.strip_prefix(&cwd_real)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| abs.display().to_string())
    };
    let renames = repo
        .renames_since(&base)
        .map_err(git_error)?
        .into_iter()
        .map(|(old, new)| (to_cwd(&old), to_cwd(&new)))
        .collect();
    Ok(MergeBase {
        inventory,
        renames,
        _tree: tree,
    })
}

pub(crate) fn run(a: &CheckArgs, m: &ArgMatches) -> Result<u8, Error> {
    let outputs = pairs(a, m)?;
    let fail_on = Severity::parse(&a.fail_on).ok_or_else(|| {
        usage(format!(
            "unknown severity `{}`: use error, warning or info",
            a.fail_on
        ))
    })?;
    let color = match a.color.as_str() {
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
    let config = load_config(a.policies.config.as_deref())?;
    // Rego and Kyverno policies come from the same paths: the command line's, else the config's.
    let sources = a.policies.sources(&config, a.combine)?;
    let policies = PolicySet::load(&sources, &config).map_err(Error::Policies)?;
    for note in policies.notes() {
        output::warn(note);
    }
    let baseline = a.baseline.as_deref().map(Baseline::load).transpose()?;
    let scan_options = ScanOptions {
        exclude: config.exclude.clone(),
        render: a.render || config.render,
        argocd_repos: config.argocd_repos.clone(),
    };
    let inventory = scan(&a.paths, &scan_options).map_err(|e| usage(e.to_string()))?;
    if inventory.resources.is_empty() && inventory.errors.is_empty() && !a.allow_empty {
        let what: Vec<String> = a.paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::Empty(what.join(" ")));
    }
    for note in &inventory.notes {
        output::warn(note);
    }
    let today = tollgate_core::suppress::today_utc();
    let filters = Filters {
        annotations: config.annotation_exemptions && !a.no_annotation_exemptions,
        baseline: baseline.as_ref(),
        today: &today,
    };
    let Evaluation {
        findings,
        suppressed,
        errors: eval_errors,
        expired,
    } = match &a.new_since {
        None => policies.evaluate(&inventory.resources, filters),
        Some(reference) => {
            let base = merge_base_tree(reference, &a.paths, &scan_options)?;
            policies.evaluate_change(
                &base.inventory.resources,
                &inventory.resources,
                &base.renames,
                filters,
            )
        }
    };
    if let Some(path) = &a.write_baseline {
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
    let exit_code = if !inventory.errors.is_empty() || !eval_errors.is_empty() {
        2
    } else {
        u8::from(failing)
    };
    let evaluated: Vec<(String, String)> = inventory
        .resources
        .iter()
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
        show_suppressed: a.show_suppressed,
        errors: &inventory.errors,
        eval_errors: &eval_errors,
        expired: &expired,
        files: inventory.files,
        resources: inventory.resources.len(),
        skipped: &inventory.skipped,
        show_skipped: a.show_skipped,
        roots: inventory.roots.len(),
        evaluated: &evaluated,
        exit_code,
        version,
    };
    for (format, path) in outputs {
        let human = HumanOptions {
            color: color && path.is_none(),
        };
        match path {
            Some(p) => write_atomic(&p, report::render(format, &rep, human).as_bytes(), 0o644)
                .map_err(written(&p.display().to_string()))?,
            None => output::stdout_with(|out| report::write(format, &rep, human, out))
                .map_err(written("stdout"))?,
        }
    }
    // The process ends right after this: freeing a large run's documents and findings one
    // allocation at a time would only delay the exit.
    std::mem::forget((findings, suppressed, evaluated, inventory, policies));
    Ok(exit_code)
}
