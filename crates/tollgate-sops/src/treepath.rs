//! sops tree paths (`["stringData"]["password"]`, `["hosts"][0]`) for `--extract`, `set` and
//! `unset`.

use crate::error::{err, Result};
use crate::tree::{Entry, Node};

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// Parses `["a"][0]['b']`.
pub fn parse(s: &str) -> Result<Vec<Step>> {
    let bad = || {
        err!(InvalidTreePath, "invalid tree path `{s}`")
            .with_hint(r#"write paths like '["stringData"]["password"]' or '["hosts"][0]'"#)
    };
    let mut steps = Vec::new();
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(bad)?;
        if let Some(q) = inner.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let body = inner.get(q.len_utf8()..).ok_or_else(bad)?;
            let (key, after) = body.split_once(q).ok_or_else(bad)?;
            steps.push(Step::Key(key.to_owned()));
            rest = after.strip_prefix(']').ok_or_else(bad)?;
        } else {
            let (index, after) = inner.split_once(']').ok_or_else(bad)?;
            steps.push(Step::Index(index.trim().parse().map_err(|_| bad())?));
            rest = after;
        }
    }
    Ok(steps)
}

/// The node at `path`.
pub fn get<'a>(root: &'a Node, path: &[Step]) -> Option<&'a Node> {
    let mut node = root;
    for step in path {
        node = match (step, node) {
            (Step::Key(k), Node::Map(_)) => node.get(k)?,
            (Step::Index(i), Node::List(items)) => items
                .iter()
                .filter(|n| !matches!(n, Node::Comment(_)))
                .nth(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Sets the node at `path`, creating mappings on the way; returns whether anything changed.
pub fn set(root: &mut Node, path: &[Step], value: Node) -> Result<bool> {
    let Some((step, rest)) = path.split_first() else {
        let changed = *root != value;
        *root = value;
        return Ok(changed);
    };
    match (step, root) {
        (Step::Key(k), Node::Map(entries)) => {
            let found = entries.iter_mut().find_map(|e| match e {
                Entry::Pair(n, v) if n == k => Some(v),
                _ => None,
            });
            match found {
                Some(child) => set(child, rest, value),
                None => {
                    let mut child = if matches!(rest.first(), Some(Step::Index(_))) {
                        Node::List(Vec::new())
                    } else {
                        Node::Map(Vec::new())
                    };
                    set(&mut child, rest, value)?;
                    entries.push(Entry::Pair(k.clone(), child));
                    Ok(true)
                }
            }
        }
        (Step::Index(i), Node::List(items)) => {
            let real: Vec<usize> = items
                .iter()
                .enumerate()
                .filter(|(_, n)| !matches!(n, Node::Comment(_)))
                .map(|(i, _)| i)
                .collect();
            match real.get(*i) {
                Some(&pos) => match items.get_mut(pos) {
                    Some(item) => set(item, rest, value),
                    None => Ok(false),
                },
                None if *i == real.len() => {
                    let mut child = Node::Map(Vec::new());
                    set(&mut child, rest, value)?;
                    items.push(child);
                    Ok(true)
                }
                None => Err(err!(Generic, "index {i} is out of range")),
            }
        }
        _ => Err(err!(
            Generic,
            "the path does not match the shape of the file"
        )),
    }
}

/// Removes the node at `path`; `Ok(false)` when it was not there.
pub fn unset(root: &mut Node, path: &[Step]) -> Result<bool> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(false);
    };
    let mut node = root;
    for step in parents {
        node = match (step, node) {
            (Step::Key(k), Node::Map(entries)) => match entries.iter_mut().find_map(|e| match e {
                Entry::Pair(n, v) if n == k => Some(v),
                _ => None,
            }) {
                Some(v) => v,
                None => return Ok(false),
            },
            (Step::Index(i), Node::List(items)) => {
                match items
                    .iter_mut()
                    .filter(|n| !matches!(n, Node::Comment(_)))
                    .nth(*i)
                {
                    Some(v) => v,
                    None => return Ok(false),
                }
            }
            _ => return Ok(false),
        };
    }
    match (last, node) {
        (Step::Key(k), Node::Map(entries)) => {
            let before = entries.len();
            entries.retain(|e| !matches!(e, Entry::Pair(n, _) if n == k));
            Ok(entries.len() != before)
        }
        (Step::Index(i), Node::List(items)) => {
            let pos = items
                .iter()
                .enumerate()
                .filter(|(_, n)| !matches!(n, Node::Comment(_)))
                .map(|(p, _)| p)
                .nth(*i);
            Ok(pos.map(|p| items.remove(p)).is_some())
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        assert_eq!(
            parse(r#"["a"][0]['b']"#).unwrap(),
            vec![Step::Key("a".into()), Step::Index(0), Step::Key("b".into())]
        );
        assert_eq!(parse("stringData").unwrap_err().exit_code(), 91);
        assert_eq!(parse(r#"["a""#).unwrap_err().exit_code(), 91);
    }
}
