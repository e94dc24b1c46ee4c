//! `tollgate rbac who-can | explain`: questions about the RBAC of the manifests, answered by
//! the same graph the RBAC checks use. No cluster is asked.

use super::check::load_config;
use super::query::{load, usage, Answer, QueryFormat};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tollgate_core::checks::rbac::{self, Graph, Query, SubjectRef};
use tollgate_core::Error;

#[derive(Args)]
pub(crate) struct RbacArgs {
    #[command(subcommand)]
    command: RbacCommand,
}

#[derive(Subcommand)]
enum RbacCommand {
    /// Every subject that may do VERB on RESOURCE, with the bindings and roles that grant it.
    WhoCan {
        /// The verb: get, list, create, delete, escalate, bind, impersonate, ...
        verb: String,
        /// The resource as kubectl spells it: pods, deployments.apps, pods/exec.
        resource: String,
        /// Manifest files or directories.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Only in this namespace (default: any namespace).
        #[arg(short, long, value_name = "NS")]
        namespace: Option<String>,
        /// The object's name, for rules narrowed by resourceNames.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// What one subject may do, per namespace: KIND/[NAMESPACE/]NAME, e.g.
    /// ServiceAccount/shop/web, User/alice, Group/devs.
    Explain {
        /// The subject.
        subject: String,
        /// Manifest files or directories.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
struct Common {
    /// Output: human or json.
    #[arg(long, value_name = "FORMAT", default_value = "human")]
    format: String,
    /// The configuration file (for its excludes; default: tollgate.yaml found upwards).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub(crate) fn run(a: &RbacArgs) -> Result<u8, Error> {
    match &a.command {
        RbacCommand::WhoCan {
            verb,
            resource,
            paths,
            namespace,
            name,
            common,
        } => {
            let format = QueryFormat::parse(&common.format)?;
            let query = Query::parse(verb, resource, namespace.as_deref(), name.as_deref())?;
            let config = load_config(common.config.as_deref())?;
            let inventory = load(paths, &config);
            let graph = Graph::build(&inventory.resources);
            let answer = rbac::who_can(&graph, &query);
            Answer {
                json: serde_json::to_value(&answer).map_err(|e| usage(e.to_string()))?,
                human: answer.to_human(&query),
                unread: inventory.errors.len(),
                errors: graph.errors.clone(),
            }
            .print(format)
        }
        RbacCommand::Explain {
            subject,
            paths,
            common,
        } => {
            let format = QueryFormat::parse(&common.format)?;
            let who = SubjectRef::parse(subject)?;
            let config = load_config(common.config.as_deref())?;
            let inventory = load(paths, &config);
            let graph = Graph::build(&inventory.resources);
            let accounts = rbac::service_accounts(&inventory.resources);
            let answer = rbac::explain(&graph, &who, &accounts)?;
            Answer {
                json: serde_json::to_value(&answer).map_err(|e| usage(e.to_string()))?,
                human: answer.to_human(),
                unread: inventory.errors.len(),
                errors: graph.errors.clone(),
            }
            .print(format)
        }
    }
}
