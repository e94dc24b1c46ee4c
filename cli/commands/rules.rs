//! `tollgate rules list | explain ID`: the rules of the bundled packs and of the policies given
//! with --policy, with what they check and how to fix a finding.

use super::check::{load_config, packs_for};
use crate::output;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tollgate_core::engine::rego;
use tollgate_core::packs;
use tollgate_core::policyset::{PolicySet, Sources};

#[derive(Args)]
pub(crate) struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// One line per rule: id, severity, source, title.
    List(Source),
    /// What a rule checks, why, and how to fix or silence a finding.
    Explain {
        /// The rule id (`IMG001`, `main/deny`).
        id: String,
        #[command(flatten)]
        source: Source,
    },
}

#[derive(Args)]
struct Source {
    /// Also list the rules of these Rego policies.
    #[arg(short, long, value_name = "PATH")]
    policy: Vec<PathBuf>,
    /// Bundled packs to list (default: all).
    #[arg(long, value_name = "NAME")]
    pack: Vec<String>,
    /// The configuration file (default: tollgate.yaml found upwards from here).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

struct Row {
    id: String,
    severity: String,
    source: String,
    title: String,
    description: Option<String>,
    fix: Option<String>,
}

fn rows(s: &Source) -> Result<Vec<Row>, tollgate_sops::Error> {
    let config = load_config(s.config.as_deref())?;
    let chosen = packs_for(&s.pack, &config, true)?;
    let mut out: Vec<Row> = packs::rules()
        .into_iter()
        .filter(|r| chosen.iter().any(|p| p.name == r.pack))
        .map(|r| Row {
            id: r.id,
            severity: r.severity,
            source: format!("pack {} ({})", r.pack, r.source),
            title: r.meta.title.unwrap_or_default(),
            description: r.meta.description,
            fix: r.meta.fix,
        })
        .collect();
    let paths = if s.policy.is_empty() {
        config.policies.clone()
    } else {
        s.policy.clone()
    };
    if !paths.is_empty() {
        // Every engine's rules, through the same policy set `check` evaluates.
        let sources = Sources {
            paths,
            rego: rego::Options {
                all_namespaces: true,
                ..rego::Options::default()
            },
            combine: false,
        };
        let set = PolicySet::load(&sources, &config).map_err(|errors| {
            tollgate_sops::Error::new(
                tollgate_sops::ErrorKind::CouldNotReadInput,
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.file, e.message))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        out.extend(set.rules().into_iter().map(|r| Row {
            id: r.id,
            severity: r.severity.as_str().to_owned(),
            source: match r.engine {
                "kyverno" => format!("kyverno {}", r.source),
                _ => r.source,
            },
            title: r.title.unwrap_or_default(),
            description: None,
            fix: None,
        }));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

pub(crate) fn run(a: &RulesArgs) -> Result<u8, tollgate_sops::Error> {
    match &a.command {
        RulesCommand::List(s) => {
            let rows = rows(s)?;
            let w = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
            let mut text = format!("{:w$}  {:8}  {}\n", "ID", "SEVERITY", "TITLE (SOURCE)");
            for r in &rows {
                text.push_str(&format!(
                    "{:w$}  {:8}  {} ({})\n",
                    r.id, r.severity, r.title, r.source
                ));
            }
            output::stdout(text.as_bytes())?;
            Ok(0)
        }
        RulesCommand::Explain { id, source } => {
            let rows = rows(source)?;
            let Some(r) = rows.iter().find(|r| r.id == *id) else {
                return Err(tollgate_sops::Error::new(
                    tollgate_sops::ErrorKind::Generic,
                    format!("no rule `{id}`"),
                )
                .with_hint("`tollgate rules list` shows every rule"));
            };
            let mut text = format!(
                "{}: {}\nseverity: {}\nsource: {}\n",
                r.id, r.title, r.severity, r.source
            );
            if let Some(d) = &r.description {
                text.push_str(&format!("\n{d}\n"));
            }
            if let Some(f) = &r.fix {
                text.push_str(&format!("\nfix: {f}\n"));
            }
            output::stdout(text.as_bytes())?;
            Ok(0)
        }
    }
}
