//! The document tree every store reads into and writes from: ordered maps, lists, typed
//! scalars and comments, which is exactly what the SOPS cipher and MAC walk over.

use crate::time::Timestamp;
use zeroize::Zeroize;

/// A node of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// An ordered mapping; order is part of the MAC.
    Map(Vec<Entry>),
    /// A sequence. A comment inside a list is an element, as sops stores it.
    List(Vec<Node>),
    /// A leaf value.
    Scalar(Scalar),
    /// A comment line (the text after `#`), only as a list element.
    Comment(String),
}

/// One item of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// `key: value`.
    Pair(String, Node),
    /// A comment line standing before the next pair.
    Comment(String),
}

/// A leaf value with the type sops records in `type:`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null` / `~`: never encrypted, never hashed.
    Null,
    /// A string (`type:str`).
    Str(String),
    /// An integer (`type:int`).
    Int(i64),
    /// A float (`type:float`).
    Float(f64),
    /// A boolean (`type:bool`).
    Bool(bool),
    /// A YAML timestamp (`type:time`).
    Time(Timestamp),
    /// Raw bytes (`type:bytes`), never produced by sops 3.x but readable.
    Bytes(Vec<u8>),
}

impl Scalar {
    /// The `type:` name of this value in an `ENC[...]` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            // sops 3.x never writes `bytes`; raw bytes (binary files) travel as `str`.
            Scalar::Null | Scalar::Str(_) | Scalar::Bytes(_) => "str",
            Scalar::Int(_) => "int",
            Scalar::Float(_) => "float",
            Scalar::Bool(_) => "bool",
            Scalar::Time(_) => "time",
        }
    }

    /// The bytes sops encrypts and hashes for this value (`sops.ToBytes`).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Scalar::Null => Vec::new(),
            Scalar::Str(s) => s.as_bytes().to_vec(),
            Scalar::Int(i) => i.to_string().into_bytes(),
            Scalar::Float(f) => go_format_f(*f).into_bytes(),
            Scalar::Bool(true) => b"True".to_vec(),
            Scalar::Bool(false) => b"False".to_vec(),
            Scalar::Time(t) => t.rfc3339_nano().into_bytes(),
            Scalar::Bytes(b) => b.clone(),
        }
    }
}

impl Node {
    /// A string leaf.
    pub fn str(s: impl Into<String>) -> Node {
        Node::Scalar(Scalar::Str(s.into()))
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find_map(|e| match e {
                Entry::Pair(k, v) if k == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// The string value of a leaf, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// Wipes every string and byte buffer in place; used before plaintext trees are dropped.
    pub fn zeroize_in_place(&mut self) {
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            match node {
                Node::Map(entries) => {
                    for e in entries.iter_mut() {
                        match e {
                            Entry::Pair(k, v) => {
                                k.zeroize();
                                stack.push(v);
                            }
                            Entry::Comment(c) => c.zeroize(),
                        }
                    }
                }
                Node::List(items) => stack.extend(items.iter_mut()),
                Node::Scalar(Scalar::Str(s)) | Node::Comment(s) => s.zeroize(),
                Node::Scalar(Scalar::Bytes(b)) => b.zeroize(),
                Node::Scalar(Scalar::Int(i)) => i.zeroize(),
                Node::Scalar(Scalar::Float(f)) => f.zeroize(),
                Node::Scalar(_) => {}
            }
        }
    }
}

/// Documents of a decrypted file; wiped when dropped so plaintext does not linger in memory.
#[derive(Default)]
pub struct Plaintext(pub Vec<Node>);

impl Drop for Plaintext {
    fn drop(&mut self) {
        for n in &mut self.0 {
            n.zeroize_in_place();
        }
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plaintext({} documents, redacted)", self.0.len())
    }
}

/// Shortest round-trip digits and decimal exponent of a finite, non-zero `v` (`d.ddd × 10^exp`).
fn shortest_digits(v: f64) -> (String, i32) {
    let s = format!("{:e}", v.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

fn sign(v: f64) -> &'static str {
    if v.is_sign_negative() {
        "-"
    } else {
        ""
    }
}

/// Go `strconv.FormatFloat(v, 'f', -1, 64)`, with `+Inf`, `-Inf` and `NaN` as Go spells them.
pub fn go_format_f(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust's Display for f64 is the shortest round-trip decimal, never in exponent form: Go's 'f', -1.
    format!("{v}")
}

/// Go `strconv.FormatFloat(v, 'e', -1, 64)` for finite values: `1.5e+06`, `1e-07`.
fn go_format_e(v: f64) -> String {
    let (digits, exp) = shortest_digits(v);
    let mut out = String::from(sign(v));
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let esign = if exp < 0 { '-' } else { '+' };
    out.push_str(&format!("e{esign}{:02}", exp.unsigned_abs()));
    out
}

/// Go `strconv.FormatFloat(v, 'g', -1, 64)`, as yaml.v3 writes floats (`.inf`, `.nan` aside).
pub fn go_format_g(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return go_format_f(v);
    }
    let (_, exp) = shortest_digits(v);
    if !(-4..6).contains(&exp) {
        go_format_e(v)
    } else {
        go_format_f(v)
    }
}

/// How Go's `encoding/json` writes a float64 (`'f'` unless tiny or huge, then a trimmed `'e'`).
pub fn go_json_float(v: f64) -> String {
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = go_format_e(v);
        // encoding/json shortens e-07 to e-7.
        if let Some((mantissa, exp)) = s.split_once("e-0") {
            return format!("{mantissa}e-{exp}");
        }
        if let Some((mantissa, exp)) = s.split_once("e+0") {
            return format!("{mantissa}e+{exp}");
        }
        return s;
    }
    go_format_f(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_formats_match_go() {
        assert_eq!(go_format_f(1000.0), "1000");
        assert_eq!(go_format_f(2.0), "2");
        assert_eq!(go_format_f(0.75), "0.75");
        assert_eq!(go_format_f(1.2345678901234567e19), "12345678901234567000");
        assert_eq!(go_format_f(f64::INFINITY), "+Inf");
        assert_eq!(go_format_g(1e6), "1e+06");
        assert_eq!(go_format_g(1e23), "1e+23");
        assert_eq!(go_format_g(123456.0), "123456");
        assert_eq!(go_format_g(0.0001), "0.0001");
        assert_eq!(go_format_g(0.00001), "1e-05");
        assert_eq!(go_format_g(-2.5e-7), "-2.5e-07");
        assert_eq!(go_json_float(1.2345678901234567e19), "12345678901234567000");
        assert_eq!(go_json_float(1e21), "1e+21");
        assert_eq!(go_json_float(1e-7), "1e-7");
    }

    #[test]
    fn to_bytes_matches_sops() {
        assert_eq!(Scalar::Bool(true).to_bytes(), b"True");
        assert_eq!(Scalar::Int(-7).to_bytes(), b"-7");
        assert_eq!(Scalar::Float(2.0).to_bytes(), b"2");
    }
}
