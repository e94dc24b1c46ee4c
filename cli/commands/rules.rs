//! `tollgate rules list | explain ID`: the rules of the bundled packs and of the policies given
//! with --policy, with what they check and how to fix a finding.

use super::check::{load_config, packs_for};
use super::query::written;
use crate::output;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tollgate_core::engine::rego;
use tollgate_core::policyset::{PolicySet, RuleMeta, Sources};
use tollgate_core::Error;

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

/// Every rule of the chosen packs, built-in checks and policies, through the same policy set
/// `check` evaluates (so the list and the findings agree on ids and severities).
fn rules(s: &Source) -> Result<Vec<RuleMeta>, Error> {
    let config = load_config(s.config.as_deref())?;
    let paths = if s.policy.is_empty() {
        config.policies.clone()
    } else {
        s.policy.clone()
    };
    let sources = Sources {
        paths,
        rego: rego::Options {
            all_namespaces: true,
            packs: packs_for(&s.pack, &config, true)?,
            ..rego::Options::default()
        },
        combine: false,
        images: Default::default(),
    };
    let set = PolicySet::load(&sources, &config).map_err(Error::Policies)?;
    Ok(set.rules())
}

pub(crate) fn run(a: &RulesArgs) -> Result<u8, Error> {
    match &a.command {
        RulesCommand::List(s) => {
            let rows = rules(s)?;
            let w = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
            let mut text = format!("{:w$}  {:8}  {}\n", "ID", "SEVERITY", "TITLE (SOURCE)");
            for r in &rows {
                text.push_str(&format!(
                    "{:w$}  {:8}  {} ({})\n",
                    r.id,
                    r.severity.as_str(),
                    r.title.as_deref().unwrap_or_default(),
                    r.source
                ));
            }
            output::stdout(text.as_bytes()).map_err(written("stdout"))?;
            Ok(0)
        }
        RulesCommand::Explain { id, source } => {
            let rows = rules(source)?;
            let Some(r) = rows.iter().find(|r| r.id == *id) else {
                let ids = rows.iter().map(|r| r.id.as_str());
                let close = tollgate_core::checks::close_matches(id, ids);
                return Err(Error::NotFound(if close.is_empty() {
                    format!("no rule `{id}` (`tollgate rules list` shows every rule)")
                } else {
                    format!("no rule `{id}`; did you mean {}?", close.join(", "))
                }));
            };
            let mut text = format!(
                "{}: {}\nseverity: {}\nsource: {}\n",
                r.id,
                r.title.as_deref().unwrap_or_default(),
                r.severity.as_str(),
                r.source
            );
            if let Some(d) = &r.description {
                text.push_str(&format!("\n{d}\n"));
            }
            if let Some(f) = &r.fix {
                text.push_str(&format!("\nfix: {f}\n"));
            }
            output::stdout(text.as_bytes()).map_err(written("stdout"))?;
            Ok(0)
        }
    }
}
