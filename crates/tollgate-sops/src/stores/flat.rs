//! dotenv and INI cannot nest, so sops flattens its metadata into `a__list_0__map_b` keys.

use crate::tree::{Entry, Node, Scalar};

/// Flattens a metadata tree into `(key, value)` pairs, keys sorted as sops writes them.
pub fn flatten(node: &Node) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(node, String::new(), &mut out);
    out.sort();
    out
}

fn walk(node: &Node, prefix: String, out: &mut Vec<(String, String)>) {
    match node {
        Node::Map(entries) => {
            for e in entries {
                if let Entry::Pair(k, v) = e {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}__map_{k}")
                    };
                    walk(v, key, out);
                }
            }
        }
        Node::List(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, format!("{prefix}__list_{i}"), out);
            }
        }
        Node::Scalar(Scalar::Null) | Node::Comment(_) => {}
        Node::Scalar(s) => {
            let text = match s {
                Scalar::Bool(b) => b.to_string(),
                Scalar::Float(f) => crate::tree::go_format_f(*f),
                other => String::from_utf8_lossy(&other.to_bytes()).into_owned(),
            };
            out.push((prefix, text));
        }
    }
}

enum Step {
    Key(String),
    Index(usize),
}

fn steps(key: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = key;
    let first_end = rest.find("__").unwrap_or(rest.len());
    steps.push(Step::Key(rest[..first_end].to_owned()));
    rest = &rest[first_end..];
    while !rest.is_empty() {
        let (tail, is_list) = if let Some(t) = rest.strip_prefix("__list_") {
            (t, true)
        } else if let Some(t) = rest.strip_prefix("__map_") {
            (t, false)
        } else {
            // An unknown separator: keep the remainder as part of the last key.
            if let Some(Step::Key(k)) = steps.last_mut() {
                k.push_str(rest);
            }
            break;
        };
        let end = tail
            .find("__list_")
            .into_iter()
            .chain(tail.find("__map_"))
            .min()
            .unwrap_or(tail.len());
        let part = &tail[..end];
        if is_list {
            steps.push(Step::Index(part.parse().unwrap_or(0)));
        } else {
            steps.push(Step::Key(part.to_owned()));
        }
        rest = &tail[end..];
    }
    steps
}

/// Rebuilds the metadata tree from flattened pairs (all values as strings).
pub fn unflatten(pairs: &[(String, String)]) -> Node {
    let mut root = Node::Map(Vec::new());
    for (key, value) in pairs {
        insert(&mut root, &steps(key), &value.replace("\\n", "\n"));
    }
    root
}

/// Places `value` at `path`; a key that does not fit the shape built so far is dropped.
fn insert(node: &mut Node, path: &[Step], value: &str) {
    let Some((step, rest)) = path.split_first() else {
        return;
    };
    let fresh = || match rest.first() {
        None => Node::str(value),
        Some(Step::Index(_)) => Node::List(Vec::new()),
        Some(Step::Key(_)) => Node::Map(Vec::new()),
    };
    let child = match (step, node) {
        (Step::Key(k), Node::Map(entries)) => {
            if !entries
                .iter()
                .any(|e| matches!(e, Entry::Pair(n, _) if n == k))
            {
                entries.push(Entry::Pair(k.clone(), fresh()));
            }
            entries.iter_mut().find_map(|e| match e {
                Entry::Pair(n, v) if n == k => Some(v),
                _ => None,
            })
        }
        (Step::Index(i), Node::List(items)) => {
            while items.len() <= *i {
                items.push(fresh());
            }
            items.get_mut(*i)
        }
        _ => None,
    };
    if let Some(child) = child {
        insert(child, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let pairs = vec![
            ("age__list_0__map_enc".to_string(), "a\\nb".to_string()),
            (
                "age__list_0__map_recipient".to_string(),
                "age1x".to_string(),
            ),
            ("lastmodified".to_string(), "t".to_string()),
        ];
        let node = unflatten(&pairs);
        let age = node.get("age").unwrap();
        let Node::List(items) = age else { panic!() };
        assert_eq!(items[0].get("enc").unwrap().as_str(), Some("a\nb"));
        let back: Vec<_> = flatten(&node)
            .into_iter()
            .map(|(k, v)| (k, v.replace('\n', "\\n")))
            .collect();
        assert_eq!(back, pairs);
    }
}
