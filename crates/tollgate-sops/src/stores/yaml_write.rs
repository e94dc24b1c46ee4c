//! Writes the sops tree as YAML the way Go sops (yaml.v3) does: block style, configurable
//! indent (4 by default), comments on their own lines, quoting only where YAML would misread.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "writes trees this crate built; indentation depth is bounded by the reader's MAX_DEPTH"
)]

use super::yaml_read::resolve_plain;
use crate::tree::{go_format_g, Entry, Node, Scalar};
use base64::Engine as _;

/// The longest key written in the implicit `key: value` form (the `:` counts too).
const MAX_IMPLICIT_KEY: usize = 1023;

/// Emits documents separated by `---` (large streams are emitted in parallel, per document).
pub fn write(docs: &[Node], indent: usize) -> String {
    use rayon::prelude::*;
    let one = |doc: &Node| {
        let mut w = Writer {
            out: String::new(),
            step: indent.max(1),
        };
        match doc {
            Node::Map(entries) if entries.iter().any(|e| matches!(e, Entry::Pair(..))) => {
                w.map(entries, 0);
            }
            Node::Map(entries) => {
                // Only comments: they stay, and `{}` says the document is there (as sops
                // writes it). Without it the comments read back as the next document's.
                w.map(entries, 0);
                w.out.push_str("{}\n");
            }
            // A sequence on its own (an extracted list) is a block sequence, as yaml.v3 writes it.
            Node::List(items) if !items.is_empty() => w.list(items, 0),
            other => {
                w.value_inline(other, 0, false);
                w.out.push('\n');
            }
        }
        w.out
    };
    let parts: Vec<String> = if docs.len() > 64 {
        docs.par_iter().map(one).collect()
    } else {
        docs.iter().map(one).collect()
    };
    parts.join("---\n")
}

/// Emits one value on its own, as `sops decrypt --extract` prints a subtree.
pub fn write_value(node: &Node, indent: usize) -> String {
    match node {
        Node::Map(_) | Node::List(_) => write(std::slice::from_ref(node), indent),
        other => {
            let mut w = Writer {
                out: String::new(),
                step: indent.max(1),
            };
            w.value_inline(other, 0, false);
            w.out.push('\n');
            w.out
        }
    }
}

struct Writer {
    out: String,
    step: usize,
}

impl Writer {
    /// yaml.v3 aligns nested block indentation to the next multiple of the indent.
    fn next(&self, indent: usize) -> usize {
        self.step * ((indent + self.step) / self.step)
    }

    fn pad(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    /// Where item `i` of a collection starts: the first item of a collection nested in a list
    /// item continues that item's `- ` line.
    fn item_col(&self, i: usize, col: usize) -> usize {
        if i == 0 && self.out.ends_with("- ") {
            0
        } else {
            col
        }
    }

    fn comment(&mut self, text: &str, col: usize) {
        self.pad(col);
        self.out.push('#');
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn map(&mut self, entries: &[Entry], col: usize) {
        for (i, e) in entries.iter().enumerate() {
            let c = self.item_col(i, col);
            match e {
                Entry::Comment(t) => self.comment(t, c),
                Entry::Pair(k, v) => {
                    self.pad(c);
                    if k == "<<" {
                        self.out.push_str("!!merge <<");
                    } else {
                        let key = scalar_text(k, true);
                        // An implicit key may not run past 1024 characters (YAML 1.2
                        // 7.4.2, libyaml's limit): a longer one is written `? key` with the
                        // `:` on the next line, as yaml.v3 does.
                        if key.chars().count() > MAX_IMPLICIT_KEY {
                            self.out.push_str("? ");
                            self.out.push_str(&key);
                            self.out.push('\n');
                            self.pad(c);
                        } else {
                            self.out.push_str(&key);
                        }
                    }
                    self.out.push(':');
                    self.child(v, col, false);
                }
            }
        }
    }

    fn list(&mut self, items: &[Node], col: usize) {
        for (i, item) in items.iter().enumerate() {
            let c = self.item_col(i, col);
            match item {
                Node::Comment(t) => self.comment(t, c),
                Node::Map(e) if !e.is_empty() => {
                    self.pad(c);
                    self.out.push_str("- ");
                    self.map(e, col + 2);
                }
                Node::List(l) if !l.is_empty() => {
                    self.pad(c);
                    self.out.push_str("- ");
                    self.list(l, col + 2);
                }
                other => {
                    self.pad(c);
                    self.out.push('-');
                    self.out.push(' ');
                    self.value_inline(other, col, true);
                    self.out.push('\n');
                }
            }
        }
    }

    /// The value of a map key at `col`.
    fn child(&mut self, v: &Node, col: usize, in_seq: bool) {
        match v {
            Node::Map(e) if !e.is_empty() => {
                self.out.push('\n');
                let n = self.next(col);
                self.map(e, n);
            }
            Node::List(l) if !l.is_empty() => {
                self.out.push('\n');
                let n = self.next(col);
                self.list(l, n);
            }
            other => {
                self.out.push(' ');
                self.value_inline(other, col, in_seq);
                self.out.push('\n');
            }
        }
    }

    /// A scalar or empty collection after `key: ` or `- `; `col` is the owner's indentation.
    fn value_inline(&mut self, v: &Node, col: usize, in_seq: bool) {
        match v {
            Node::Map(_) => self.out.push_str("{}"),
            Node::List(_) => self.out.push_str("[]"),
            Node::Comment(t) => {
                self.out.push('#');
                self.out.push_str(t);
            }
            Node::Scalar(s) => match s {
                Scalar::Null => self.out.push_str("null"),
                Scalar::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
                Scalar::Int(i) => self.out.push_str(&i.to_string()),
                Scalar::Float(f) => self.out.push_str(&yaml_float(*f)),
                Scalar::Time(t) => self.out.push_str(&t.rfc3339_nano()),
                Scalar::Bytes(b) => {
                    self.out.push_str("!!binary ");
                    self.out
                        .push_str(&base64::engine::general_purpose::STANDARD.encode(b));
                }
                Scalar::Str(s) => {
                    let content = if in_seq { col + 2 } else { self.next(col) };
                    // An explicit indentation indicator counts from the owner's indentation,
                    // not in steps: under a list item's key the content sits 2 past it.
                    match literal_block(s, content, content.saturating_sub(col).max(1)) {
                        Some(block) => {
                            self.out.push_str(&block);
                            // literal_block ends with a newline that the caller adds again.
                            self.out.pop();
                        }
                        None => self.out.push_str(&scalar_text(s, false)),
                    }
                }
            },
        }
    }
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else {
        go_format_g(f)
    }
}

/// libyaml's printable set (tab is not printable, so tabs force double quotes).
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// yaml.v3's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (main, frac) = s.split_once('.').unwrap_or((s, ""));
    if !frac.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
        return false;
    }
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    let head_ok = head.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && head.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    let mut n = 0;
    for p in parts {
        n += 1;
        let b = p.as_bytes();
        let ok = match b.len() {
            1 => b[0].is_ascii_digit(),
            2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    head_ok && n > 0
}

/// Whether libyaml would accept `s` as a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !printable(c) || c == '\n' {
            return false;
        }
        let next_blank = chars.get(i + 1).is_none_or(|n| *n == ' ' || *n == '\n');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => return false,
                '?' | ':' | '-' if next_blank => return false,
                _ => {}
            }
        } else {
            if c == ':' && next_blank {
                return false;
            }
            if c == '#' && chars[i - 1] == ' ' {
                return false;
            }
        }
    }
    true
}

/// How yaml.v3 writes a single-line string (or a key): plain when it would read back as the same
/// string, else single quotes, else double quotes.
fn scalar_text(s: &str, _is_key: bool) -> String {
    let reads_back =
        matches!(resolve_plain(s), Scalar::Str(_)) && !is_old_bool(s) && !is_base60_float(s);
    if reads_back && plain_allowed(s) {
        return s.to_owned();
    }
    if reads_back && single_allowed(s) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

fn single_allowed(s: &str) -> bool {
    !s.chars().any(|c| !printable(c) || c == '\n')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{B}' => out.push_str("\\v"),
            '\u{C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1B}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{A0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A literal block (`|`) for a multi-line string, or `None` when libyaml would not allow one.
/// `indicator` is how far the content sits past its owner, written when the text starts with
/// a space or a newline (the parser could not tell the indentation otherwise).
fn literal_block(s: &str, content_indent: usize, indicator: usize) -> Option<String> {
    if !s.contains('\n') {
        return None;
    }
    if s.chars().any(|c| !printable(c)) || s.ends_with(' ') || s.contains(" \n") {
        return None;
    }
    let mut head = String::from("|");
    if s.starts_with(' ') || s.starts_with('\n') {
        head.push_str(&indicator.to_string());
    }
    if !s.ends_with('\n') {
        head.push('-');
    } else if s == "\n" || s.ends_with("\n\n") {
        head.push('+');
    }
    head.push('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            head.extend(std::iter::repeat_n(' ', content_indent));
            head.push_str(line);
        }
        head.push('\n');
    }
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_like_yaml_v3() {
        assert_eq!(scalar_text("yes", false), "\"yes\"");
        assert_eq!(scalar_text("42", false), "\"42\"");
        assert_eq!(scalar_text("", false), "\"\"");
        assert_eq!(scalar_text("y", true), "\"y\"");
        assert_eq!(
            scalar_text("2026-11-21T22:55:09Z", false),
            "\"2026-11-21T22:55:09Z\""
        );
        assert_eq!(scalar_text("s3cr3t-P@ss", false), "s3cr3t-P@ss");
        assert_eq!(scalar_text("- x", false), "'- x'");
        assert_eq!(scalar_text("a: b", false), "'a: b'");
        assert_eq!(scalar_text("tab\there", false), "\"tab\\there\"");
        assert_eq!(scalar_text("key:with:colons", true), "key:with:colons");
        assert_eq!(scalar_text("1:20", false), "\"1:20\"");
    }

    #[test]
    fn negative_zero_is_written_as_yaml_v3_writes_it() {
        let docs = super::super::yaml_read::read("a: -0e3\n").unwrap();
        assert_eq!(write(&docs, 4), "a: -0\n");
        // ...which yaml.v3, like our reader, takes for the integer 0 on the next read.
        let again = super::super::yaml_read::read("a: -0\n").unwrap();
        assert_eq!(write(&again, 4), "a: 0\n");
    }

    #[test]
    fn comment_only_documents_keep_their_place() {
        // Found by fuzz/yaml_reader: a document holding only comments was written as the
        // comments alone, which read back as part of the next document. sops writes `{}`.
        use crate::stores::yaml_read::read;
        let text = "# a\n---\n# b\n---\nx: 1\n";
        let once = write(&read(text).unwrap(), 4);
        assert_eq!(
            once, "# a\n# b\n{}\n---\nx: 1\n",
            "as sops decrypt prints it"
        );
        assert_eq!(write(&read(&once).unwrap(), 4), once);
    }

    #[test]
    fn indentation_indicators_count_from_the_owner() {
        // Found by fuzz/yaml_reader: `|4` under a list item's key, whose content sits 2 past
        // the key, did not parse back. Text starting with a space needs the indicator.
        use crate::stores::yaml_read::read;
        // Each a string that starts with a space and holds newlines: written as a `|N` block.
        for text in [
            "a:\n    - k: x\n      v: \" lead\\nnext\\n\"\n",
            "a: \" lead\\nnext\\n\"\n",
            "a:\n    - \" lead\\nnext\\n\"\n",
            "a:\n    b:\n        - - \"\\n lead\\n\"\n",
        ] {
            let docs = read(text).unwrap();
            let once = write(&docs, 4);
            assert!(once.contains('|'), "{once}");
            let again = read(&once).unwrap_or_else(|e| panic!("{once}: {e:?}"));
            assert_eq!(again, docs, "{once}");
        }
    }

    #[test]
    fn keys_past_1024_characters_are_explicit() {
        // Found by fuzz/yaml_reader: a 1,500-character key was written `key: value`, which no
        // YAML parser accepts as an implicit key.
        use crate::stores::yaml_read::read;
        let key = "k".repeat(1500);
        let text = format!("? {key}\n: v\nshort: 1\n");
        let docs = read(&text).unwrap();
        let once = write(&docs, 4);
        assert!(once.starts_with("? kkk"), "{}", &once[..20]);
        assert_eq!(read(&once).unwrap(), docs);
    }

    #[test]
    fn block_layout() {
        let docs = super::super::yaml_read::read(
            "a:\n  b: [1, 2]\n  c:\n  - name: x\n    v: |\n      l1\n      l2\n",
        )
        .unwrap();
        assert_eq!(
            write(&docs, 4),
            "a:\n    b:\n        - 1\n        - 2\n    c:\n        - name: x\n          v: |\n            l1\n            l2\n"
        );
    }
}
