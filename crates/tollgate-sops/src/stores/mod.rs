//! File formats sops supports, chosen by extension or flag, each reading into and writing
//! from the same document tree.

mod flat;
mod json;
mod text;
pub mod yaml_write;

pub use tollgate_yaml::read as yaml_read;

use crate::error::{err, Result};
use crate::tree::{Entry, Node, Scalar};
use std::path::Path;

pub use flat::{flatten, unflatten};

/// The top-level values of `doc` as environment variables (`exec-env`).
pub fn environment(doc: &Node) -> Result<Vec<(String, zeroize::Zeroizing<String>)>> {
    text::environment(doc)
}

/// A JSON value as a tree node (integers stay integers).
pub fn json_value(v: serde_json::Value) -> Node {
    json::from_json(v)
}

/// A sops store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML streams (`.yaml`, `.yml`).
    Yaml,
    /// JSON (`.json`).
    Json,
    /// dotenv (`.env`).
    Dotenv,
    /// INI (`.ini`).
    Ini,
    /// Anything else: the whole file is one value.
    Binary,
}

impl Format {
    /// The store sops picks for a file name.
    pub fn from_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }

    /// The store named by `--input-type` / `--output-type`.
    pub fn from_name(name: &str) -> Result<Format> {
        Ok(match name {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "ini" => Format::Ini,
            "binary" => Format::Binary,
            other => {
                return Err(err!(Generic, "unknown file type `{other}`")
                    .with_hint("use one of yaml, json, dotenv, ini, binary"))
            }
        })
    }

    /// Reads a plaintext file.
    pub fn read_plain(self, input: &[u8]) -> Result<Vec<Node>> {
        match self {
            Format::Binary => Ok(vec![Node::Map(vec![Entry::Pair(
                "data".into(),
                Node::Scalar(bytes_scalar(input)),
            )])]),
            _ => self.read_encrypted(input),
        }
    }

    /// Reads an encrypted file (metadata still inside the tree).
    pub fn read_encrypted(self, input: &[u8]) -> Result<Vec<Node>> {
        let text = std::str::from_utf8(input).map_err(|e| {
            err!(
                CouldNotReadInput,
                "the file is not valid UTF-8 (first bad byte at offset {})",
                e.valid_up_to()
            )
            .with_hint("binary files need --input-type binary")
        })?;
        match self {
            Format::Yaml => Ok(yaml_read::read(text)?),
            Format::Json | Format::Binary => json::read(text),
            Format::Dotenv => text::read_dotenv(text),
            Format::Ini => text::read_ini(text),
        }
    }

    /// Writes plaintext documents.
    pub fn write_plain(self, docs: &[Node], indent: Option<usize>) -> Result<Vec<u8>> {
        match self {
            Format::Binary => match docs.first().and_then(|d| d.get("data")) {
                Some(Node::Scalar(Scalar::Str(s))) => Ok(s.as_bytes().to_vec()),
                Some(Node::Scalar(Scalar::Bytes(b))) => Ok(b.clone()),
                _ => Err(err!(
                    Generic,
                    "binary output needs a top-level `data` string"
                )),
            },
            _ => self.write_encrypted(docs, indent),
        }
    }

    /// Writes documents whose metadata is already attached.
    pub fn write_encrypted(self, docs: &[Node], indent: Option<usize>) -> Result<Vec<u8>> {
        Ok(match self {
            Format::Yaml => yaml_write::write(docs, indent.unwrap_or(4)).into_bytes(),
            Format::Json | Format::Binary => json::write(single(docs)?, indent).into_bytes(),
            Format::Dotenv => text::write_dotenv(single(docs)?)?.into_bytes(),
            Format::Ini => text::write_ini(single(docs)?)?.into_bytes(),
        })
    }

    /// Writes one extracted value (`--extract`): scalars raw, subtrees in this format.
    pub fn write_value(self, node: &Node, indent: Option<usize>) -> Result<Vec<u8>> {
        match node {
            Node::Scalar(Scalar::Str(s)) => Ok(s.as_bytes().to_vec()),
            Node::Scalar(Scalar::Bytes(b)) => Ok(b.clone()),
            // Other scalars and lists go through the store's value emitter, as sops's
            // EmitValue: YAML's ends in a newline (`42\n`, `- 1\n- 2\n`), JSON's does not.
            Node::Scalar(_) | Node::List(_) if self == Format::Yaml => {
                Ok(yaml_write::write_value(node, indent.unwrap_or(4)).into_bytes())
            }
            Node::Scalar(s) => Ok(match s {
                Scalar::Float(f) => crate::tree::go_format_f(*f),
                Scalar::Bool(b) => b.to_string(),
                Scalar::Null => String::new(),
                other => String::from_utf8_lossy(&other.to_bytes()).into_owned(),
            }
            .into_bytes()),
            Node::Map(_) => self.write_plain(std::slice::from_ref(node), indent),
            _ => {
                let mut text = json::write(node, indent);
                if text.ends_with('\n') {
                    text.pop();
                }
                Ok(text.into_bytes())
            }
        }
    }
}

fn bytes_scalar(input: &[u8]) -> Scalar {
    match std::str::from_utf8(input) {
        Ok(s) => Scalar::Str(s.to_owned()),
        Err(_) => Scalar::Bytes(input.to_vec()),
    }
}

fn single(docs: &[Node]) -> Result<&Node> {
    match docs {
        [one] => Ok(one),
        [] => Err(err!(
            NeedAtLeastOneDocument,
            "there is no document to write"
        )),
        _ => Err(err!(
            Generic,
            "this format holds one document, the input has {}",
            docs.len()
        )
        .with_hint("write multi-document files as YAML")),
    }
}
