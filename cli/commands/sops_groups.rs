//! `tollgate sops groups add|delete`: sops's key group editing, for moving a file to Shamir
//! key groups (or back) without a new data key.

use super::sops::{emit, formats, indent_for, keyring, load_config, read_input, recipients};
use super::sops::{lock_for_update, InputArgs};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tollgate_sops::bulk::{self, GroupChange};
use tollgate_sops::error::Result;
use tollgate_sops::fsio::Mode;

#[derive(Subcommand)]
pub(crate) enum GroupsCommand {
    /// Add a key group; its keys wrap the data key (or a new Shamir share of it).
    Add(AddArgs),
    /// Delete the key group at INDEX (from 0); the others wrap the data key anew.
    Delete(DeleteArgs),
}

/// What both group commands read and write.
#[derive(Args)]
pub(crate) struct Target {
    /// The encrypted file.
    #[arg(short, long, value_name = "FILE")]
    file: PathBuf,
    /// Write the result over FILE instead of stdout.
    #[arg(short, long)]
    in_place: bool,
    /// Key groups needed to recover the data key from now on (default: kept; every group
    /// when the file had one).
    #[arg(long, value_name = "N")]
    shamir_secret_sharing_threshold: Option<usize>,
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Args)]
pub(crate) struct AddArgs {
    /// An age recipient of the new group (repeat, or comma-separate).
    #[arg(long, value_name = "RECIPIENT")]
    age: Vec<String>,
    /// A PGP fingerprint of the new group (repeat).
    #[arg(long, value_name = "FINGERPRINT")]
    pgp: Vec<String>,
    #[command(flatten)]
    target: Target,
}

#[derive(Args)]
pub(crate) struct DeleteArgs {
    /// The group to delete, counted from 0 as in the file's metadata.
    index: usize,
    #[command(flatten)]
    target: Target,
}

pub(crate) fn run(command: GroupsCommand) -> Result<()> {
    match command {
        GroupsCommand::Add(a) => {
            let members = recipients(Some(&a.age.join(",")), Some(&a.pgp.join(",")));
            change(&a.target, &GroupChange::Add(members))
        }
        GroupsCommand::Delete(a) => change(&a.target, &GroupChange::Delete(a.index)),
    }
}

fn change(t: &Target, change: &GroupChange) -> Result<()> {
    let file = Some(t.file.as_path());
    let _lock = t.in_place.then(|| lock_for_update(&t.file)).transpose()?;
    let (inp, _) = formats(file, &t.input)?;
    let bytes = read_input(file)?;
    let keyring = keyring(t.input.decryption_order.as_deref())?;
    let config = load_config(&t.input).ok().flatten();
    let out = bulk::change_groups(
        &bytes,
        inp,
        &keyring,
        change,
        t.shamir_secret_sharing_threshold,
        indent_for(inp, &t.input, config.as_ref()),
    )
    .map_err(|e| e.context(t.file.display()))?;
    emit(&out, file, t.in_place, None, Mode::KeepOr(0o644))
}
