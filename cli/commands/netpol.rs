//! `tollgate netpol reach`: may one workload connect to another under the NetworkPolicies of
//! the manifests, and which policies decide. The network model is the one the NetworkPolicy
//! checks use.

use super::check::load_config;
use super::query::{load, usage, Answer, QueryFormat};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tollgate_core::checks::netpol::{self, Network, PortQuery};
use tollgate_core::Error;

#[derive(Args)]
pub(crate) struct NetpolArgs {
    #[command(subcommand)]
    command: NetpolCommand,
}

#[derive(Subcommand)]
enum NetpolCommand {
    /// May FROM open a connection to TO? Each is NAMESPACE/NAME (or KIND/NAMESPACE/NAME) of a
    /// workload, or an IP address.
    Reach {
        /// The source.
        from: String,
        /// The destination.
        to: String,
        /// Manifest files or directories.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// PORT[/PROTOCOL] (443, 53/UDP, or a container port's name); default any port.
        #[arg(long, value_name = "PORT")]
        port: Option<String>,
        /// Output: human or json.
        #[arg(long, value_name = "FORMAT", default_value = "human")]
        format: String,
        /// The configuration file (for its excludes; default: tollgate.yaml found upwards).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub(crate) fn run(a: &NetpolArgs) -> Result<u8, Error> {
    let NetpolCommand::Reach {
        from,
        to,
        paths,
        port,
        format,
        config,
    } = &a.command;
    let format = QueryFormat::parse(format)?;
    let port = port.as_deref().map(PortQuery::parse).transpose()?;
    let config = load_config(config.as_deref())?;
    let inventory = load(paths, &config);
    let net = Network::build(&inventory.resources);
    let source = net.endpoint(from)?;
    let destination = net.endpoint(to)?;
    let answer = netpol::reach(&net, source, destination, port.as_ref())?;
    Answer {
        json: serde_json::to_value(&answer).map_err(|e| usage(e.to_string()))?,
        human: answer.to_human(from, to),
        unread: inventory.errors.len(),
        errors: net.errors.clone(),
    }
    .print(format)
}
