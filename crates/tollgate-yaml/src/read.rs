//! Reads YAML streams into the sops tree the way Go sops (yaml.v3) does: comments become items
//! before the node they describe, aliases are expanded, plain scalars are typed by yaml.v3's rules.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "offsets and depths are bounded by the input's length and MAX_DEPTH; fuzzed (fuzz/yaml_reader) and property-tested"
)]

use crate::error::{err, Error, Result};
use crate::time::parse_yaml_timestamp;
use crate::tree::{Entry, Node, Scalar};
use base64::Engine as _;
use granit_parser::{Event, Options, Parser, Placement, ScalarStyle, Tag};
use std::collections::{HashMap, HashSet};

/// Deepest nesting accepted; beyond it a clear error beats a stack overflow.
pub const MAX_DEPTH: usize = 1000;
/// Nodes that alias expansion may add beyond the nodes written in the file (alias bombs).
const ALIAS_BUDGET: usize = 1_000_000;

enum Kind {
    Map {
        entries: Vec<Entry>,
        key: Option<String>,
        seen: HashSet<String>,
    },
    List {
        items: Vec<Node>,
    },
}

struct Frame {
    kind: Kind,
    /// Values (not comments) in a list so far: the index of the next item.
    values: usize,
    anchor: usize,
    /// Line of the last item started here, and where it begins, for same-line comments.
    item_line: usize,
    item_index: usize,
    right_comments: usize,
    nodes: usize,
}

impl Frame {
    fn len(&self) -> usize {
        match &self.kind {
            Kind::Map { entries, .. } => entries.len(),
            Kind::List { items } => items.len(),
        }
    }

    fn expects_key(&self) -> bool {
        matches!(&self.kind, Kind::Map { key: None, .. })
    }

    fn push_comment(&mut self, text: String) {
        match &mut self.kind {
            Kind::Map { entries, .. } => entries.push(Entry::Comment(text)),
            Kind::List { items } => items.push(Node::Comment(text)),
        }
    }

    fn insert_comment(&mut self, at: usize, text: String) {
        match &mut self.kind {
            Kind::Map { entries, .. } => entries.insert(at, Entry::Comment(text)),
            Kind::List { items } => items.insert(at, Node::Comment(text)),
        }
    }
}

/// How plain scalars are typed, and what a document may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    /// Go sops (yaml.v3): `yes` is a string, timestamps are `time`, merge keys stay keys, and
    /// every document must be a mapping.
    #[default]
    Sops,
    /// Kubernetes (sigs.k8s.io/yaml, YAML 1.1): `yes`/`on`/`off` are booleans, timestamps stay
    /// strings, `<<` merges, and a document may hold anything (callers skip non-objects).
    Kubernetes,
}

/// `(field path, line, column)` of every value of a document.
pub type Positions = Vec<(String, u32, u32)>;

/// A document with where it starts and where each of its fields is.
#[derive(Debug, Clone)]
pub struct Document {
    /// The root node.
    pub root: Node,
    /// 1-based line of the document's first node.
    pub line: usize,
    /// 1-based column of the document's first node.
    pub column: usize,
    /// `(field path, line, column)` for every value, e.g. `spec.containers[0].image`.
    pub positions: Positions,
}

struct Reader {
    schema: Schema,
    /// Positions of the current document, when recording.
    positions: Option<Positions>,
    doc_start: Option<(usize, usize)>,
    meta: Vec<(usize, usize, Positions)>,
    docs: Vec<Node>,
    stack: Vec<Frame>,
    /// Comments waiting for the item they describe, with their column.
    pending: Vec<(String, usize)>,
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    doc_index: usize,
    doc_root: Option<Node>,
}

/// Streams larger than this are split at document markers and parsed in parallel.
const PARALLEL_BYTES: usize = 64 * 1024;

/// Parses a YAML stream into one mapping per document.
pub fn read(src: &str) -> Result<Vec<Node>> {
    if src.len() >= PARALLEL_BYTES {
        if let Some(docs) = read_parallel(src) {
            return Ok(docs);
        }
    }
    read_from(src, 0)
}

/// Splits at `---` lines (a document marker at column 0 cannot occur inside a scalar, YAML 1.2
/// §9.1.4) and parses the pieces in parallel. `None` when any piece is not exactly one document
/// (comments between documents, directives, errors): the sequential reader then decides.
fn read_parallel(src: &str) -> Option<Vec<Node>> {
    use rayon::prelude::*;
    let chunks = split_at_markers(src);
    if chunks.len() < 2 {
        return None;
    }
    // A piece without content (comments before a `---`) belongs to the next document.
    let has_content = |text: &str| {
        text.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with("---")
        })
    };
    if !chunks.iter().all(|(_, t)| has_content(t)) {
        return None;
    }
    let parsed: Vec<Option<Node>> = chunks
        .par_iter()
        .map(|(offset, text)| match read_from(text, *offset) {
            Ok(mut docs) if docs.len() == 1 => docs.pop(),
            _ => None,
        })
        .collect();
    parsed.into_iter().collect()
}

/// The pieces of a stream between `---` lines, each with the number of lines before it.
fn split_at_markers(src: &str) -> Vec<(usize, &str)> {
    let mut chunks: Vec<(usize, &str)> = Vec::new();
    let (mut start, mut line, mut start_line) = (0usize, 0usize, 0usize);
    let mut pos = 0usize;
    for l in src.split_inclusive('\n') {
        let marker = l
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
        if marker && pos > start {
            chunks.push((start_line, &src[start..pos]));
            start = pos;
            start_line = line;
        }
        pos += l.len();
        line += 1;
    }
    chunks.push((start_line, &src[start..]));
    chunks
}

/// The documents of a stream that does not parse as a whole, read piece by piece between its
/// `---` lines, so one broken document does not hide the others. Each piece gives its
/// documents or its error (lines counted in the whole stream); pieces with no content (only
/// comments) are left out.
pub fn read_documents_each(src: &str, schema: Schema) -> Vec<Result<Vec<Document>>> {
    split_at_markers(src)
        .into_iter()
        .filter(|(_, text)| {
            text.lines().any(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#') && t != "---" && t != "..."
            })
        })
        .map(|(offset, text)| parse(text, offset, schema, true).map(documents_of))
        .collect()
}

/// Reads every document of a stream with its position and the position of each field.
pub fn read_documents(src: &str, schema: Schema) -> Result<Vec<Document>> {
    parse(src, 0, schema, true).map(documents_of)
}

fn documents_of(r: Reader) -> Vec<Document> {
    r.docs
        .into_iter()
        .zip(r.meta)
        .map(|(root, (line, column, positions))| Document {
            root,
            line,
            column,
            positions,
        })
        .collect()
}

fn read_from(src: &str, line_offset: usize) -> Result<Vec<Node>> {
    parse(src, line_offset, Schema::Sops, false).map(|r| r.docs)
}

fn parse(src: &str, line_offset: usize, schema: Schema, record: bool) -> Result<Reader> {
    let mut opts = Options::default();
    opts.block_nesting_limit = MAX_DEPTH;
    opts.flow_nesting_limit = MAX_DEPTH;
    // `key: |` whose last line ends the file without a line break: go-yaml (sops, and the
    // Kubernetes tooling) reads `text`, not `text\n`. A certificate pasted without a final
    // newline must keep its bytes.
    opts.block_scalar_eof_without_line_feed = true;
    let mut r = Reader {
        schema,
        positions: record.then(Vec::new),
        doc_start: None,
        meta: Vec::new(),
        docs: Vec::new(),
        stack: Vec::new(),
        pending: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        doc_index: 0,
        doc_root: None,
    };
    let mut in_doc = false;
    for ev in Parser::new_from_str_with_options(src, opts) {
        let (ev, span) = ev.map_err(|e| {
            let m = e.marker();
            let info = e.info();
            if info.contains("recursion limit") {
                return err!(
                    Invalid,
                    "nesting deeper than {MAX_DEPTH} levels at line {}",
                    m.line() + line_offset
                );
            }
            err!(
                Invalid,
                "invalid YAML at line {} column {}: {info}",
                m.line() + line_offset,
                m.col() + 1
            )
        })?;
        let line = span.start.line() + line_offset;
        let at = |e: Error| e.context(format!("line {line}"));
        match ev {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(..) => {
                in_doc = true;
                r.doc_root = None;
            }
            Event::DocumentEnd => {
                r.end_document().map_err(at)?;
                in_doc = false;
            }
            Event::Comment(text, placement) => {
                r.comment(text.into_owned(), placement, line, span.start.col())
            }
            Event::Scalar(value, style, anchor, tag) => {
                r.record(line, span.start.col());
                let node = r.scalar(&value, style, tag.as_deref()).map_err(at)?;
                r.node(node, anchor, line).map_err(at)?;
            }
            Event::Alias(id) => {
                r.record(line, span.start.col());
                let (node, count) = r
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| at(err!(Invalid, "alias to an unknown anchor")))?;
                r.alias_nodes = r.alias_nodes.saturating_add(count);
                if r.alias_nodes > ALIAS_BUDGET {
                    return Err(at(err!(
                        Invalid,
                        "aliases expand to more than {ALIAS_BUDGET} nodes"
                    ))
                    .with_hint(
                        "the file looks like a YAML alias bomb; expand the aliases by hand",
                    ));
                }
                r.node(node, 0, line).map_err(at)?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(at(err!(Invalid, "alias *{name} has no anchor")));
            }
            Event::Anchor(..) => {}
            Event::MappingStart(_, anchor, _) => {
                r.record(line, span.start.col());
                r.start(
                    Kind::Map {
                        entries: Vec::new(),
                        key: None,
                        seen: HashSet::new(),
                    },
                    anchor,
                    line,
                    span.start.col(),
                )
                .map_err(at)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                r.record(line, span.start.col());
                r.start(
                    Kind::List { items: Vec::new() },
                    anchor,
                    line,
                    span.start.col(),
                )
                .map_err(at)?;
            }
            Event::MappingEnd | Event::SequenceEnd => r.end(line).map_err(at)?,
            // Events added by later parser versions carry no data we use.
            _ => {}
        }
    }
    if in_doc {
        r.end_document()?;
    }
    if r.positions.is_some() {
        // Comments after the last document are presentation only.
        r.pending.clear();
        return Ok(r);
    }
    if !r.pending.is_empty() {
        let comments: Vec<String> = std::mem::take(&mut r.pending)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        match r.docs.last_mut() {
            Some(Node::Map(entries)) => entries.extend(comments.into_iter().map(Entry::Comment)),
            _ => r.docs.push(Node::Map(
                comments.into_iter().map(Entry::Comment).collect(),
            )),
        }
    }
    Ok(r)
}

impl Reader {
    /// Notes where the node starting now sits (keys are not recorded: values are).
    fn record(&mut self, line: usize, col: usize) {
        if self.positions.is_none() || self.stack.last().is_some_and(Frame::expects_key) {
            return;
        }
        if self.doc_start.is_none() {
            self.doc_start = Some((line, col + 1));
        }
        let mut path = String::new();
        for f in &self.stack {
            match &f.kind {
                Kind::Map { key: Some(k), .. } => push_key(&mut path, k),
                Kind::Map { key: None, .. } => {}
                Kind::List { .. } => path.push_str(&format!("[{}]", f.values)),
            }
        }
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        if let Some(p) = self.positions.as_mut() {
            p.push((path, to_u32(line), to_u32(col + 1)));
        }
    }

    fn comment(&mut self, text: String, placement: Placement, line: usize, col: usize) {
        if placement == Placement::Right {
            for frame in self.stack.iter_mut().rev() {
                if frame.item_line == line && frame.len() > frame.item_index {
                    let at = frame.item_index + frame.right_comments;
                    frame.insert_comment(at, text);
                    frame.right_comments += 1;
                    return;
                }
                let key_open = matches!(&frame.kind, Kind::Map { key: Some(_), .. });
                if frame.item_line == line && frame.len() == frame.item_index && key_open {
                    // The item is still open (a key waiting for its value): the comment leads it.
                    frame.push_comment(text);
                    frame.item_index += 1;
                    return;
                }
            }
        }
        self.pending.push((text, col));
    }

    /// Called before a node event: flushes pending comments when the node starts a new item.
    /// A collection starting inside a list keeps the comments indented at least as deep as
    /// itself: they are its own first items (`- # c` / `  - x`), as indentation says.
    fn begin_item(&mut self, line: usize, collection_col: Option<usize>) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        let new_item = match &top.kind {
            Kind::Map { key, .. } => key.is_none(),
            Kind::List { .. } => true,
        };
        if !new_item {
            return;
        }
        let keep_from = match (&top.kind, collection_col) {
            (Kind::List { .. }, Some(col)) => self
                .pending
                .iter()
                .position(|(_, c)| *c >= col)
                .unwrap_or(self.pending.len()),
            _ => self.pending.len(),
        };
        for (c, _) in self.pending.drain(..keep_from) {
            top.push_comment(c);
        }
        top.item_line = line;
        top.item_index = top.len();
        top.right_comments = 0;
    }

    fn start(&mut self, kind: Kind, anchor: usize, line: usize, col: usize) -> Result<()> {
        if self.stack.last().is_some_and(Frame::expects_key) {
            return Err(err!(
                NonStringKey,
                "mapping keys must be strings, found a collection"
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(err!(Invalid, "nesting deeper than {MAX_DEPTH} levels"));
        }
        self.begin_item(line, Some(col));
        self.stack.push(Frame {
            kind,
            values: 0,
            anchor,
            item_line: 0,
            item_index: 0,
            right_comments: 0,
            nodes: 1,
        });
        Ok(())
    }

    fn end(&mut self, _line: usize) -> Result<()> {
        let frame = self
            .stack
            .pop()
            .ok_or_else(|| err!(Invalid, "unbalanced YAML collection"))?;
        let node = match frame.kind {
            Kind::Map {
                entries, key: None, ..
            } if self.schema == Schema::Kubernetes => Node::Map(merge_keys(entries)),
            Kind::Map {
                entries, key: None, ..
            } => Node::Map(entries),
            Kind::Map { key: Some(k), .. } => {
                return Err(err!(Invalid, "mapping key `{k}` has no value"));
            }
            Kind::List { items } => Node::List(items),
        };
        if frame.anchor != 0 {
            self.anchors
                .insert(frame.anchor, (node.clone(), frame.nodes));
        }
        self.attach(node, frame.nodes)
    }

    fn node(&mut self, node: Node, anchor: usize, line: usize) -> Result<()> {
        self.begin_item(line, None);
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), count(&node)));
        }
        let n = count(&node);
        self.attach(node, n)
    }

    fn attach(&mut self, node: Node, nodes: usize) -> Result<()> {
        let Some(top) = self.stack.last_mut() else {
            if self.doc_root.is_some() {
                return Err(err!(Invalid, "more than one root node in a document"));
            }
            self.doc_root = Some(node);
            return Ok(());
        };
        top.nodes = top.nodes.saturating_add(nodes);
        match &mut top.kind {
            Kind::List { items } => {
                items.push(node);
                top.values += 1;
            }
            Kind::Map { entries, key, seen } => match key.take() {
                None => {
                    let k = match node {
                        Node::Scalar(Scalar::Str(s)) => s,
                        other => {
                            return Err(err!(
                                NonStringKey,
                                "mapping keys must be strings, found {}",
                                describe(&other)
                            )
                            .with_hint("quote the key"))
                        }
                    };
                    // Kubernetes maps are small: a scan beats hashing until they are not.
                    let duplicate = if entries.len() < 32 {
                        entries
                            .iter()
                            .any(|e| matches!(e, Entry::Pair(n, _) if *n == k))
                    } else {
                        if seen.is_empty() {
                            seen.extend(entries.iter().filter_map(|e| match e {
                                Entry::Pair(n, _) => Some(n.clone()),
                                Entry::Comment(_) => None,
                            }));
                        }
                        !seen.insert(k.clone())
                    };
                    if duplicate {
                        return Err(err!(Invalid, "duplicate key `{k}`"));
                    }
                    *key = Some(k);
                }
                Some(k) => entries.push(Entry::Pair(k, node)),
            },
        }
        Ok(())
    }

    fn end_document(&mut self) -> Result<()> {
        let index = self.doc_index;
        self.doc_index += 1;
        let root = self.doc_root.take();
        if let Some(p) = self.positions.as_mut() {
            let (line, col) = self.doc_start.take().unwrap_or((0, 0));
            self.meta.push((line, col, std::mem::take(p)));
        }
        if self.schema == Schema::Kubernetes {
            self.pending.clear();
            self.docs.push(root.unwrap_or(Node::Scalar(Scalar::Null)));
            return Ok(());
        }
        let mut doc = match root {
            None | Some(Node::Scalar(Scalar::Null)) => Node::Map(Vec::new()),
            Some(map @ Node::Map(_)) => map,
            Some(other) => {
                return Err(err!(
                    Invalid,
                    "document {} is {}, but sops files must hold a mapping in every document",
                    index + 1,
                    describe(&other)
                ))
            }
        };
        if let Node::Map(entries) = &mut doc {
            entries.extend(self.pending.drain(..).map(|(c, _)| Entry::Comment(c)));
        }
        self.docs.push(doc);
        Ok(())
    }

    fn scalar(&self, value: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Node> {
        let is_key = self.stack.last().is_some_and(Frame::expects_key);
        if let Some(tag) = tag {
            if tag.is_yaml_core_schema() || tag.handle() == "tag:yaml.org,2002:" {
                if self.schema == Schema::Kubernetes && tag.suffix() == "timestamp" {
                    return Ok(Node::str(value));
                }
                return tagged(value, tag.suffix(), is_key);
            }
            // Custom tags (`!Ref`) are dropped; the value stays a string, as in sops.
            return Ok(Node::str(value));
        }
        if style != ScalarStyle::Plain {
            return Ok(Node::str(value));
        }
        if is_key && value == "<<" {
            return Ok(Node::str(value));
        }
        // kustomize (yaml.v3) and kubectl read a plain key such as `on`, `yes` or `1` as the
        // string it spells; a YAML 1.1 boolean key must not make a manifest unreadable.
        if is_key && self.schema == Schema::Kubernetes {
            return Ok(Node::str(value));
        }
        if self.schema == Schema::Kubernetes {
            return Ok(Node::Scalar(resolve_plain_yaml11(value)));
        }
        Ok(Node::Scalar(resolve_plain(value)))
    }
}

/// Appends a key to a field path: `a.b`, or `a["app.kubernetes.io/name"]` when the key is not
/// a plain identifier.
pub fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", serde_json::Value::String(key.to_owned())));
    }
}

/// YAML 1.1 merge keys as Kubernetes applies them: `<<: *base` (or a list of them) adds the
/// keys the mapping does not already have.
fn merge_keys(entries: Vec<Entry>) -> Vec<Entry> {
    if !entries
        .iter()
        .any(|e| matches!(e, Entry::Pair(k, _) if k == "<<"))
    {
        return entries;
    }
    let mut own = Vec::new();
    let mut merged = Vec::new();
    for e in entries {
        match e {
            Entry::Pair(k, v) if k == "<<" => match v {
                Node::Map(m) => merged.extend(m),
                Node::List(items) => {
                    for item in items {
                        if let Node::Map(m) = item {
                            merged.extend(m);
                        }
                    }
                }
                other => own.push(Entry::Pair(k, other)),
            },
            other => own.push(other),
        }
    }
    for e in merged {
        if let Entry::Pair(k, _) = &e {
            if own.iter().any(|o| matches!(o, Entry::Pair(n, _) if n == k)) {
                continue;
            }
            own.push(e);
        }
    }
    own
}

/// Types a plain scalar as sigs.k8s.io/yaml (yaml.v2, YAML 1.1) does for Kubernetes objects.
pub fn resolve_plain_yaml11(s: &str) -> Scalar {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Scalar::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Scalar::Bool(false),
        _ => {}
    }
    match resolve_plain(s) {
        // yaml.v2 keeps timestamp-looking values as strings when decoding into interface{}.
        Scalar::Time(_) => Scalar::Str(s.to_owned()),
        other => other,
    }
}

fn tagged(value: &str, suffix: &str, is_key: bool) -> Result<Node> {
    // The value may be a secret: name the tag, never the value.
    let bad = || err!(Invalid, "a value tagged !!{suffix} is not a valid {suffix}");
    Ok(Node::Scalar(match suffix {
        "str" | "merge" => Scalar::Str(value.to_owned()),
        "binary" => {
            let clean: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|_| bad())?;
            match String::from_utf8(bytes) {
                Ok(s) => Scalar::Str(s),
                Err(e) => Scalar::Bytes(e.into_bytes()),
            }
        }
        "timestamp" => Scalar::Time(parse_yaml_timestamp(value).ok_or_else(bad)?),
        "null" => Scalar::Null,
        "bool" | "int" | "float" => {
            let s = resolve_plain(value);
            match (&s, suffix) {
                (Scalar::Bool(_), "bool")
                | (Scalar::Int(_), "int")
                | (Scalar::Float(_), "float") => s,
                (Scalar::Int(i), "float") =>
                {
                    #[allow(clippy::cast_precision_loss)]
                    Scalar::Float(*i as f64)
                }
                _ => return Err(bad()),
            }
        }
        _ if is_key => Scalar::Str(value.to_owned()),
        _ => Scalar::Str(value.to_owned()),
    }))
}

fn describe(n: &Node) -> &'static str {
    match n {
        Node::Map(_) => "a mapping",
        Node::List(_) => "a list",
        Node::Comment(_) => "a comment",
        Node::Scalar(Scalar::Null) => "null",
        Node::Scalar(Scalar::Str(_)) => "a string",
        Node::Scalar(Scalar::Int(_)) => "an integer",
        Node::Scalar(Scalar::Float(_)) => "a float",
        Node::Scalar(Scalar::Bool(_)) => "a boolean",
        Node::Scalar(Scalar::Time(_)) => "a timestamp",
        Node::Scalar(Scalar::Bytes(_)) => "binary data",
    }
}

fn count(n: &Node) -> usize {
    match n {
        Node::Map(e) => {
            1 + e
                .iter()
                .map(|e| {
                    if let Entry::Pair(_, v) = e {
                        count(v)
                    } else {
                        1
                    }
                })
                .sum::<usize>()
        }
        Node::List(items) => 1 + items.iter().map(count).sum::<usize>(),
        _ => 1,
    }
}

/// Types an untagged plain scalar as yaml.v3 does.
pub fn resolve_plain(s: &str) -> Scalar {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        if let Some(f) = go_parse_float(s) {
            return Scalar::Float(f);
        }
        return Scalar::Str(s.to_owned());
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Scalar::Str(s.to_owned());
    }
    if let Some(t) = parse_yaml_timestamp(s) {
        return Scalar::Time(t);
    }
    let plain = s.replace('_', "");
    if let Some(i) = go_parse_int(&plain) {
        return Scalar::Int(i);
    }
    if go_parse_uint(&plain).is_some() {
        // yaml.v3 gives a uint64 here, which sops cannot encrypt; keep the text as sops would fail.
        return Scalar::Str(s.to_owned());
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(s.to_owned())
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// Go `strconv.ParseUint(s, 0, 64)` without the sign.
fn go_parse_uint(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(h) = lower.strip_prefix("0x") {
        (h.to_owned(), 16)
    } else if let Some(o) = lower.strip_prefix("0o") {
        (o.to_owned(), 8)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (b.to_owned(), 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (lower[1..].to_owned(), 8)
    } else {
        (lower, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

/// Go `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = split_sign(s);
    let u = go_parse_uint(rest)?;
    if neg {
        if u == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(u).ok().map(|v| -v)
        }
    } else {
        i64::try_from(u).ok()
    }
}

fn go_parse_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// yaml.v3's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let (_, rest) = split_sign(s);
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mantissa_ok = if let Some(frac) = mantissa.strip_prefix('.') {
        !frac.is_empty() && frac.bytes().all(|c| c.is_ascii_digit())
    } else {
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        !int.is_empty()
            && int.bytes().all(|c| c.is_ascii_digit())
            && frac.bytes().all(|c| c.is_ascii_digit())
    };
    let exp_ok = exp.is_none_or(|e| {
        let (_, d) = split_sign(e);
        !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_typed_like_yaml_v3() {
        assert_eq!(resolve_plain("0x1F"), Scalar::Int(31));
        assert_eq!(resolve_plain("0o17"), Scalar::Int(15));
        assert_eq!(resolve_plain("0755"), Scalar::Int(493));
        assert_eq!(resolve_plain("08"), Scalar::Float(8.0));
        assert_eq!(resolve_plain("1e3"), Scalar::Float(1000.0));
        assert_eq!(resolve_plain("yes"), Scalar::Str("yes".into()));
        assert_eq!(resolve_plain("1_000"), Scalar::Int(1000));
        assert!(matches!(resolve_plain("2024-01-01"), Scalar::Time(_)));
        assert_eq!(resolve_plain("-"), Scalar::Str("-".into()));
        assert_eq!(resolve_plain("1.2.3"), Scalar::Str("1.2.3".into()));
    }

    /// A block scalar on the file's last line without a line break: go-yaml gives the text
    /// without `\n` (clip and keep chomping alike, literal and folded); with the break, or with
    /// anything after the scalar, the line break is part of the value as usual.
    #[test]
    fn block_scalar_at_eof_without_line_break() {
        let value = |src: &str, key: &str| {
            read(src).unwrap()[0]
                .get(key)
                .and_then(Node::as_str)
                .map(str::to_owned)
        };
        assert_eq!(value("c: |\n  a\n  b", "c").as_deref(), Some("a\nb"));
        assert_eq!(value("c: |+\n  a", "c").as_deref(), Some("a"));
        assert_eq!(value("c: >\n  a\n  b", "c").as_deref(), Some("a b"));
        assert_eq!(value("c: |\n  a\n", "c").as_deref(), Some("a\n"));
        assert_eq!(value("c: |\n  a\nd: 1", "c").as_deref(), Some("a\n"));
        assert_eq!(value("c: |-\n  a", "c").as_deref(), Some("a"));
    }

    #[test]
    fn comments_go_before_their_item() {
        let docs =
            read("# top\na: 1 # right\nb:\n  # inner\n  c: [x, y]\nl:\n  - p\n  - q # on q\n")
                .unwrap();
        let Node::Map(e) = &docs[0] else { panic!() };
        assert_eq!(e[0], Entry::Comment(" top".into()));
        assert_eq!(e[1], Entry::Comment(" right".into()));
        assert!(matches!(&e[2], Entry::Pair(k, _) if k == "a"));
        let Some(Node::Map(inner)) = docs[0].get("b") else {
            panic!()
        };
        assert_eq!(inner[0], Entry::Comment(" inner".into()));
        let Some(Node::List(items)) = docs[0].get("l") else {
            panic!()
        };
        assert_eq!(items[1], Node::Comment(" on q".into()));
    }

    #[test]
    fn parallel_read_equals_sequential_read() {
        let mut src = String::new();
        for i in 0..3000 {
            if i > 0 {
                src.push_str("---\n");
            }
            src.push_str(&format!(
                "# doc {i}\na: {i}\nb:\n  - x # right\n  - &k y\nc: *k\n"
            ));
        }
        assert!(src.len() > PARALLEL_BYTES);
        let par = read_parallel(&src).expect("splits");
        assert_eq!(par, read_from(&src, 0).unwrap());
        // Comments alone before a marker belong to the next document: no split then.
        assert!(read_parallel(&format!("# only a comment\n---\n{src}")).is_none());
        let broken = format!("{src}---\na: [\n");
        let e = read(&broken).unwrap_err();
        assert!(
            e.message()
                .contains(&format!("line {}", broken.lines().count())),
            "{e}"
        );
    }

    #[test]
    fn yaml11_boolean_keys_are_string_keys_in_the_kubernetes_schema() {
        // A GitHub workflow in a ConfigMap (`on:`), a key `yes`, a numeric key: kustomize and
        // kubectl read them as the strings they spell. The values keep YAML 1.1 typing.
        let src = "data:\n  on: push\n  yes: b\n  1: one\n  flag: on\n";
        let docs = read_documents(src, Schema::Kubernetes).unwrap();
        let data = docs[0].root.get("data").unwrap();
        assert_eq!(data.get("on").and_then(Node::as_str), Some("push"));
        assert_eq!(data.get("yes").and_then(Node::as_str), Some("b"));
        assert_eq!(data.get("1").and_then(Node::as_str), Some("one"));
        assert_eq!(data.get("flag"), Some(&Node::Scalar(Scalar::Bool(true))));
        // The sops schema (yaml.v3) still refuses a non-string key, as sops does.
        assert!(read("1: x\n").is_err());
    }

    #[test]
    fn kubernetes_schema_with_positions() {
        let src = "# c\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {app.kubernetes.io/name: x}\nspec:\n  hostNetwork: yes\n  created: 2024-01-01\n  base: &b {a: 1}\n  merged:\n    <<: *b\n    c: 2\n  containers:\n    - name: c\n      image: nginx\n---\n- not an object\n";
        let docs = read_documents(src, Schema::Kubernetes).unwrap();
        assert_eq!(docs.len(), 2);
        let d = &docs[0];
        assert_eq!((d.line, d.column), (2, 1));
        let pos = |p: &str| {
            d.positions
                .iter()
                .find(|(k, _, _)| k == p)
                .map(|(_, l, c)| (*l, *c))
        };
        assert_eq!(pos("spec.containers[0].image"), Some((16, 14)));
        assert_eq!(
            pos("metadata.labels[\"app.kubernetes.io/name\"]"),
            Some((6, 36))
        );
        let spec = d.root.get("spec").unwrap();
        assert_eq!(
            spec.get("hostNetwork"),
            Some(&Node::Scalar(Scalar::Bool(true)))
        );
        assert_eq!(
            spec.get("created").and_then(Node::as_str),
            Some("2024-01-01")
        );
        assert_eq!(
            spec.get("merged").and_then(|m| m.get("a")),
            Some(&Node::Scalar(Scalar::Int(1)))
        );
        assert!(matches!(docs[1].root, Node::List(_)));
    }

    #[test]
    fn rejects_bad_shapes() {
        use crate::ErrorKind::{Invalid, NonStringKey};
        assert_eq!(read("- a\n- b\n").unwrap_err().kind(), Invalid);
        assert_eq!(read("a: 1\na: 2\n").unwrap_err().kind(), Invalid);
        assert_eq!(read("1: x\n").unwrap_err().kind(), NonStringKey);
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        assert_eq!(read(bomb).unwrap_err().kind(), Invalid);
        let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(read(&format!("a: {deep}\n")).unwrap_err().kind(), Invalid);
    }
}
