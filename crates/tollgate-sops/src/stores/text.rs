//! The line-based stores: dotenv (`KEY=value`) and INI (`[section]` / `key = value`).

use crate::error::{err, Result};
use crate::tree::{Entry, Node, Scalar};

pub(super) fn read_dotenv(text: &str) -> Result<Vec<Node>> {
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            entries.push(Entry::Comment(c.to_owned()));
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            err!(
                CouldNotReadInput,
                "line {}: expected KEY=VALUE",
                i.saturating_add(1)
            )
        })?;
        entries.push(Entry::Pair(k.to_owned(), Node::str(v.replace("\\n", "\n"))));
    }
    Ok(vec![Node::Map(entries)])
}

fn text_of(node: &Node, key: &str) -> Result<String> {
    match node {
        Node::Scalar(Scalar::Str(s)) => Ok(s.clone()),
        Node::Scalar(Scalar::Null) => Ok(String::new()),
        Node::Scalar(Scalar::Bool(b)) => Ok(b.to_string()),
        Node::Scalar(s) => Ok(String::from_utf8_lossy(&s.to_bytes()).into_owned()),
        _ => Err(err!(
            ErrorDumpingTree,
            "`{key}` is nested; this format holds only flat values"
        )),
    }
}

pub(super) fn write_dotenv(doc: &Node) -> Result<String> {
    let Node::Map(entries) = doc else {
        return Err(err!(ErrorDumpingTree, "dotenv needs a mapping"));
    };
    let mut out = String::new();
    for e in entries {
        match e {
            Entry::Comment(c) => {
                out.push('#');
                out.push_str(c);
            }
            Entry::Pair(k, v) => {
                out.push_str(k);
                out.push('=');
                out.push_str(&text_of(v, k)?.replace('\n', "\\n"));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

pub(super) fn read_ini(text: &str) -> Result<Vec<Node>> {
    let mut sections: Vec<Entry> = Vec::new();
    let mut current: Option<(String, Vec<Entry>)> = None;
    let mut pending: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix(';').or_else(|| line.strip_prefix('#')) {
            pending.push(c.trim().to_owned());
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if let Some((n, e)) = current.take() {
                sections.push(Entry::Pair(n, Node::Map(e)));
            }
            // A comment before a section header belongs to the section, as in sops.
            current = Some((
                name.trim().to_owned(),
                pending.drain(..).map(Entry::Comment).collect(),
            ));
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            err!(
                CouldNotReadInput,
                "line {}: expected `key = value` or `[section]`",
                i.saturating_add(1)
            )
        })?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(v);
        let section = current.get_or_insert_with(|| ("DEFAULT".to_owned(), Vec::new()));
        section.1.extend(pending.drain(..).map(Entry::Comment));
        section
            .1
            .push(Entry::Pair(k.trim().to_owned(), Node::str(v)));
    }
    if let Some((n, mut e)) = current.take() {
        e.extend(pending.drain(..).map(Entry::Comment));
        sections.push(Entry::Pair(n, Node::Map(e)));
    }
    Ok(vec![Node::Map(sections)])
}

pub(super) fn write_ini(doc: &Node) -> Result<String> {
    let Node::Map(sections) = doc else {
        return Err(err!(ErrorDumpingTree, "INI needs a mapping"));
    };
    let mut out = String::new();
    for s in sections {
        let Entry::Pair(name, body) = s else { continue };
        let Node::Map(entries) = body else {
            return Err(err!(
                ErrorDumpingTree,
                "INI values must sit inside a [section]; `{name}` does not"
            ));
        };
        if !out.is_empty() {
            out.push('\n');
        }
        let width = entries
            .iter()
            .filter_map(|e| {
                if let Entry::Pair(k, _) = e {
                    Some(k.chars().count())
                } else {
                    None
                }
            })
            .max()
            .unwrap_or(0);
        let lead = entries
            .iter()
            .take_while(|e| matches!(e, Entry::Comment(_)))
            .count();
        let (leading, rest) = entries.split_at(lead.min(entries.len()));
        for e in leading {
            if let Entry::Comment(c) = e {
                out.push_str(&format!("; {c}\n"));
            }
        }
        if name != "DEFAULT" {
            out.push_str(&format!("[{name}]\n"));
        }
        for e in rest {
            match e {
                Entry::Comment(c) => out.push_str(&format!("; {c}\n")),
                Entry::Pair(k, v) => {
                    let text = text_of(v, k)?.replace('\n', "\\n");
                    out.push_str(&format!("{k:<width$} = {text}\n"));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_round_trip() {
        let docs = read_dotenv("# c\nA=1\nB=x\\ny\n\nEMPTY=\n").unwrap();
        assert_eq!(docs[0].get("B").unwrap().as_str(), Some("x\ny"));
        assert_eq!(
            write_dotenv(&docs[0]).unwrap(),
            "# c\nA=1\nB=x\\ny\nEMPTY=\n"
        );
        assert_eq!(read_dotenv("novalue\n").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn ini_round_trip() {
        let src = "; ini comment\n[database]\nuser     = admin\npassword = s3cr3t\nport     = 5432\n\n[app]\nname = demo\n";
        let docs = read_ini(src).unwrap();
        assert_eq!(write_ini(&docs[0]).unwrap(), src);
    }
}
