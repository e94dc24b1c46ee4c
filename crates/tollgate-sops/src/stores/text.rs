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

/// The top-level values of a document as environment variables, as sops `exec-env` exports
/// them: comments skipped, nested values and keys with `=` refused (naming the key, never the
/// value), other scalars as text.
pub(super) fn environment(doc: &Node) -> Result<Vec<(String, zeroize::Zeroizing<String>)>> {
    let Node::Map(entries) = doc else {
        return Err(err!(
            Generic,
            "the file's values are not a mapping of names"
        ));
    };
    let mut out = Vec::new();
    for e in entries {
        let Entry::Pair(k, v) = e else { continue };
        if matches!(v, Node::Map(_) | Node::List(_)) {
            return Err(err!(
                Generic,
                "cannot use complex value in environment; offending key {k}"
            ));
        }
        if k.contains('=') {
            return Err(err!(
                Generic,
                "cannot use keys with '=' in environment: {k}"
            ));
        }
        out.push((k.clone(), zeroize::Zeroizing::new(text_of(v, k)?)));
    }
    Ok(out)
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

/// One INI value as go-ini (sops's INI library) reads it: `"""…"""` and `` `…` `` may span
/// lines, a trailing `\\` continues on the next line, an unquoted value ends at the first `#`
/// or `;` (the rest is a comment), and surrounding `"…"` or `'…'` are removed. Returns the value
/// and the inline comment, if any.
fn ini_value<'a>(
    rest: &'a str,
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    line_no: usize,
) -> Result<(String, Option<String>)> {
    let value = rest.trim_start();
    if value.trim().is_empty() {
        return Ok((String::new(), None));
    }
    let quote = if value.len() > 3 && value.starts_with("\"\"\"") {
        Some("\"\"\"")
    } else if value.starts_with('`') {
        Some("`")
    } else {
        None
    };
    if let Some(q) = quote {
        let body = &value[q.len()..];
        if let Some((inner, _)) = body.rsplit_once(q) {
            return Ok((inner.to_owned(), None));
        }
        // The value goes on until a line holding the closing quote; line breaks are kept.
        let mut text = body.to_owned();
        for (_, next) in lines.by_ref() {
            if let Some((last, after)) = next.rsplit_once(q) {
                text.push_str(last);
                let after = after.trim();
                let comment = after.strip_prefix(['#', ';']).map(|c| c.trim().to_owned());
                return Ok((text, comment));
            }
            text.push_str(next);
        }
        return Err(err!(
            CouldNotReadInput,
            "line {line_no}: the value opened with {q} is never closed"
        ));
    }
    let mut value = value.trim().to_owned();
    if value.ends_with('\\') {
        value.pop();
        for (_, next) in lines.by_ref() {
            let next = next.trim();
            if next.is_empty() {
                break;
            }
            value.push_str(next);
            if !value.ends_with('\\') {
                break;
            }
            value.pop();
        }
    }
    let mut comment = None;
    if let Some((before, after)) = value.split_once(['#', ';']) {
        comment = Some(after.trim_start_matches(['#', ';', ' ']).to_owned());
        value = before.trim().to_owned();
    }
    for q in ['"', '\''] {
        let inner = value.strip_prefix(q).and_then(|v| v.strip_suffix(q));
        if let Some(inner) = inner.filter(|i| !i.contains(q)) {
            value = inner.to_owned();
            break;
        }
    }
    Ok((value, comment))
}

/// A key as go-ini reads it: up to the first `=` or `:`, or quoted with `"`, `` ` `` or
/// `"""` when it holds those characters. Returns the key and the text after the delimiter.
fn ini_key(line: &str) -> Option<(String, &str)> {
    for q in ["\"\"\"", "`", "\""] {
        if let Some(body) = line.strip_prefix(q) {
            let (key, after) = body.split_once(q)?;
            let (_, value) = after.split_once(['=', ':'])?;
            return Some((key.trim().to_owned(), value));
        }
    }
    let (key, value) = line.split_once(['=', ':']).filter(|(k, _)| !k.is_empty())?;
    Some((key.trim().to_owned(), value))
}

pub(super) fn read_ini(text: &str) -> Result<Vec<Node>> {
    let mut sections: Vec<Entry> = Vec::new();
    let mut current: Option<(String, Vec<Entry>)> = None;
    let mut pending: Vec<String> = Vec::new();
    let mut lines = text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, l)| (i.saturating_add(1), l));
    while let Some((line_no, raw)) = lines.next() {
        let line = raw.trim_start();
        if line.trim().is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix(';').or_else(|| line.strip_prefix('#')) {
            pending.push(c.trim().to_owned());
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let Some(close) = name.rfind(']') else {
                return Err(err!(
                    CouldNotReadInput,
                    "line {line_no}: the section header has no closing `]`"
                ));
            };
            if let Some((n, e)) = current.take() {
                sections.push(Entry::Pair(n, Node::Map(e)));
            }
            // A comment before a section header belongs to the section, as in sops.
            current = Some((
                name[..close].trim().to_owned(),
                pending.drain(..).map(Entry::Comment).collect(),
            ));
            continue;
        }
        let (key, rest) = ini_key(line).ok_or_else(|| {
            err!(
                CouldNotReadInput,
                "line {line_no}: expected `key = value` or `[section]`"
            )
        })?;
        let (value, inline) = ini_value(rest, &mut lines, line_no)?;
        let section = current.get_or_insert_with(|| ("DEFAULT".to_owned(), Vec::new()));
        // As in sops's tree, a key's comments (the lines above it and its inline comment,
        // which go-ini files together) follow the key; the writer puts them back above it.
        section.1.push(Entry::Pair(key, Node::str(value)));
        section.1.extend(pending.drain(..).map(Entry::Comment));
        section.1.extend(inline.map(Entry::Comment));
    }
    if let Some((n, mut e)) = current.take() {
        e.extend(pending.drain(..).map(Entry::Comment));
        sections.push(Entry::Pair(n, Node::Map(e)));
    }
    Ok(vec![Node::Map(sections)])
}

/// A key quoted as go-ini writes it.
fn ini_write_key(key: &str) -> String {
    if key.contains(['"', '=', ':']) {
        format!("`{key}`")
    } else if key.contains('`') {
        format!("\"\"\"{key}\"\"\"")
    } else {
        key.to_owned()
    }
}

/// A value quoted as go-ini writes it, so that reading it back gives the same string.
fn ini_write_value(value: &str) -> String {
    if value.contains(['\n', '`']) {
        format!("\"\"\"{value}\"\"\"")
    } else if value.contains(['#', ';']) {
        format!("`{value}`")
    } else if value.trim() != value {
        format!("\"{value}\"")
    } else {
        value.to_owned()
    }
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
        // go-ini aligns `=` on the longest key as written (quotes included), in bytes.
        let width = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Pair(k, _) => Some(ini_write_key(k).len()),
                Entry::Comment(_) => None,
            })
            .max()
            .unwrap_or(0);
        // Comments before the first key belong to the section and go above its header.
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
        let mut tail = rest.iter();
        while let Some(e) = tail.next() {
            let Entry::Pair(k, v) = e else { continue };
            for c in tail.clone().map_while(|e| match e {
                Entry::Comment(c) => Some(c),
                Entry::Pair(..) => None,
            }) {
                out.push_str(&format!("; {c}\n"));
            }
            let key = ini_write_key(k);
            let value = ini_write_value(&text_of(v, k)?);
            out.push_str(&format!("{key:<width$} = {value}\n"));
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

    /// go-ini's value rules, as sops 3.11 reads and writes them (checked against it):
    /// `abc;def` is the value `abc` and the comment `def`; a backtick or triple-quoted value
    /// keeps what is inside, line breaks included; surrounding double quotes are removed.
    #[test]
    fn ini_values_as_go_ini() {
        let src = "[s]\na = abc;def\nb = x # y\nc = `q;z`\nd = \"\"\"m1\nm2\"\"\"\ne = \"  sp  \"\nf: colon\n";
        let docs = read_ini(src).unwrap();
        let s = docs[0].get("s").unwrap();
        let get = |k: &str| s.get(k).unwrap().as_str().unwrap().to_owned();
        assert_eq!(get("a"), "abc");
        assert_eq!(get("b"), "x");
        assert_eq!(get("c"), "q;z");
        assert_eq!(get("d"), "m1\nm2");
        assert_eq!(get("e"), "  sp  ");
        assert_eq!(get("f"), "colon");
        assert_eq!(
            write_ini(&docs[0]).unwrap(),
            "[s]\n; def\na = abc\n; y\nb = x\nc = `q;z`\nd = \"\"\"m1\nm2\"\"\"\ne = \"  sp  \"\nf = colon\n"
        );
        let err = read_ini("[s]\nk = \"\"\"never closed\n").unwrap_err();
        assert!(err.message().contains("line 2"), "{}", err.message());
    }
}
