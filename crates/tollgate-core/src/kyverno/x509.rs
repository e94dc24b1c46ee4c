//! Kyverno's `x509_decode(pem)`: the fields of an X.509 certificate that policies read
//! (subject, issuer, validity, serial, SANs, CA flag, the RSA public key as `{N, E}`), named as
//! Go's `x509.Certificate` names them. Like Kyverno, only RSA certificates decode. A small DER
//! reader: certificates are parsed, never verified.
//!
//! The bytes come from resources: no indexing or unchecked arithmetic here.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::jmes::{Arg, JmesError};
use base64::Engine as _;
use serde_json::{Map, Value};
use tollgate_yaml::time::build;

type R<T> = Result<T, String>;

struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

fn read(b: &[u8]) -> R<(Tlv<'_>, &[u8])> {
    let bad = || "malformed DER".to_string();
    let (&tag, rest) = b.split_first().ok_or_else(bad)?;
    let (&l0, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return Err(bad());
        }
        let (digits, rest) = rest.split_at_checked(n).ok_or_else(bad)?;
        // At most four bytes: the length fits a usize on every platform we build for.
        let len = digits
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x));
        (len, rest)
    };
    let (body, rest) = rest.split_at_checked(len).ok_or_else(bad)?;
    Ok((Tlv { tag, body }, rest))
}

fn children(b: &[u8]) -> R<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = b;
    while !rest.is_empty() {
        let (t, r) = read(rest)?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

fn oid(b: &[u8]) -> String {
    let mut parts = Vec::new();
    if let Some(&first) = b.first() {
        parts.push(u64::from(first / 40));
        parts.push(u64::from(first % 40));
    }
    let mut acc = 0u64;
    for &x in b.iter().skip(1) {
        acc = (acc << 7) | u64::from(x & 0x7f);
        if x & 0x80 == 0 {
            parts.push(acc);
            acc = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn name(b: &[u8]) -> R<Value> {
    let mut fields: Map<String, Value> = Map::new();
    let mut cn = String::new();
    let mut serial = String::new();
    for set in children(b)? {
        for atv in children(set.body)? {
            let parts = children(atv.body)?;
            let [kind, value] = parts.as_slice() else {
                continue;
            };
            let value = String::from_utf8_lossy(value.body).into_owned();
            let key = match oid(kind.body).as_str() {
                "2.5.4.3" => {
                    cn = value;
                    continue;
                }
                "2.5.4.5" => {
                    serial = value;
                    continue;
                }
                "2.5.4.6" => "Country",
                "2.5.4.10" => "Organization",
                "2.5.4.11" => "OrganizationalUnit",
                "2.5.4.7" => "Locality",
                "2.5.4.8" => "Province",
                "2.5.4.9" => "StreetAddress",
                "2.5.4.17" => "PostalCode",
                _ => continue,
            };
            if let Value::Array(a) = fields
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                a.push(Value::String(value));
            }
        }
    }
    let mut out = Map::new();
    for key in [
        "Country",
        "Organization",
        "OrganizationalUnit",
        "Locality",
        "Province",
        "StreetAddress",
        "PostalCode",
    ] {
        out.insert(key.into(), fields.remove(key).unwrap_or(Value::Null));
    }
    out.insert("SerialNumber".into(), serial.into());
    out.insert("CommonName".into(), cn.into());
    Ok(Value::Object(out))
}

fn time(t: &Tlv<'_>) -> R<String> {
    let s = std::str::from_utf8(t.body).map_err(|_| "bad time".to_string())?;
    let digits = if t.tag == 0x17 { 2 } else { 4 };
    let (year, rest) = s.split_at_checked(digits).ok_or("bad time")?;
    let year: i64 = year.parse().map_err(|_| "bad time")?;
    // UTCTime's two-digit years: 50-99 are 19xx, 00-49 are 20xx (RFC 5280 4.1.2.5.1).
    let y = match (digits, year) {
        (2, yy) if yy < 50 => yy.saturating_add(2000),
        (2, yy) => yy.saturating_add(1900),
        (_, yyyy) => yyyy,
    };
    let f = |i: usize| -> R<u32> {
        rest.get(i..i.saturating_add(2))
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| "bad time".to_string())
    };
    Ok(build(y, f(0)?, f(2)?, f(4)?, f(6)?, f(8)?, 0, 0).rfc3339())
}

fn serial(b: &[u8]) -> Value {
    // Go encodes *big.Int as a JSON number; a serial past f64's exact range (most are 20
    // bytes) is kept exact as a decimal string instead.
    if b.len() <= 7 {
        Value::from(b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
    } else {
        Value::String(decimal(b))
    }
}

/// A big-endian unsigned integer in decimal, as Go's `big.Int.String()` writes it.
fn decimal(b: &[u8]) -> String {
    // Little-endian decimal digits; a DER INTEGER's leading zero byte adds none.
    let mut digits = vec![0u32];
    for &byte in b {
        let mut carry = u32::from(byte);
        // Decimal digits times 256 plus a carry below 256 stay far inside u32.
        for d in &mut digits {
            let v = d.saturating_mul(256).saturating_add(carry);
            *d = v.checked_rem(10).unwrap_or(0);
            carry = v.checked_div(10).unwrap_or(0);
        }
        while carry > 0 {
            digits.push(carry.checked_rem(10).unwrap_or(0));
            carry = carry.checked_div(10).unwrap_or(0);
        }
    }
    digits
        .iter()
        .rev()
        .filter_map(|d| char::from_digit(*d, 10))
        .collect()
}

/// The RSA key of a SubjectPublicKeyInfo as Kyverno gives it: `{"N": decimal string, "E":
/// number}`. Any other key type is an error, as in Kyverno.
fn rsa_public_key(spki: &[u8]) -> R<Value> {
    let parts = children(spki)?;
    let algorithm = children(parts.first().ok_or("empty public key")?.body)?;
    let id = oid(algorithm.first().ok_or("empty public key algorithm")?.body);
    if id != "1.2.840.113549.1.1.1" {
        return Err("certificate should use rsa algorithm".into());
    }
    let bits = parts.get(1).ok_or("no public key bits")?.body;
    // A BIT STRING starts with its count of unused bits (0 for a DER key).
    let (_, key) = bits.split_first().ok_or("empty public key bits")?;
    let (seq, _) = read(key)?;
    let ints = children(seq.body)?;
    let [n, e] = ints.as_slice() else {
        return Err("malformed RSA public key".into());
    };
    let e = e.body.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    let mut out = Map::new();
    out.insert("N".into(), Value::String(decimal(n.body)));
    out.insert("E".into(), Value::from(e));
    Ok(Value::Object(out))
}

fn certificate(der: &[u8]) -> R<Value> {
    let (cert, _) = read(der)?;
    let parts = children(cert.body)?;
    let tbs = children(parts.first().ok_or("empty certificate")?.body)?;
    let mut i = 0;
    let mut version = 1;
    if let Some(explicit) = tbs.first().filter(|t| t.tag == 0xa0) {
        let (v, _) = read(explicit.body)?;
        // DER version 0, 1, 2 is X.509 v1, v2, v3.
        version = v
            .body
            .first()
            .map_or(1, |x| i64::from(*x).saturating_add(1));
        i = 1;
    }
    let get = |k: usize| {
        tbs.get(k)
            .ok_or_else(|| "truncated certificate".to_string())
    };
    let mut out = Map::new();
    out.insert("Version".into(), Value::from(version));
    out.insert("SerialNumber".into(), serial(get(i)?.body));
    out.insert("Issuer".into(), name(get(i.saturating_add(2))?.body)?);
    let validity = children(get(i.saturating_add(3))?.body)?;
    if let [not_before, not_after] = validity.as_slice() {
        out.insert("NotBefore".into(), time(not_before)?.into());
        out.insert("NotAfter".into(), time(not_after)?.into());
    }
    out.insert("Subject".into(), name(get(i.saturating_add(4))?.body)?);
    let mut dns = Vec::new();
    let mut emails = Vec::new();
    let mut is_ca = false;
    let mut bc_valid = false;
    for ext_wrapper in tbs
        .iter()
        .skip(i.saturating_add(6))
        .filter(|t| t.tag == 0xa3)
    {
        let (exts, _) = read(ext_wrapper.body)?;
        for ext in children(exts.body)? {
            let f = children(ext.body)?;
            let id = oid(f.first().ok_or("empty certificate extension")?.body);
            let value = f.last().map_or(&[][..], |v| v.body);
            match id.as_str() {
                "2.5.29.17" => {
                    let (seq, _) = read(value)?;
                    for gn in children(seq.body)? {
                        let v = String::from_utf8_lossy(gn.body).into_owned();
                        match gn.tag {
                            0x82 => dns.push(Value::String(v)),
                            0x81 => emails.push(Value::String(v)),
                            _ => {}
                        }
                    }
                }
                "2.5.29.19" => {
                    bc_valid = true;
                    let (seq, _) = read(value)?;
                    is_ca = children(seq.body)?
                        .first()
                        .is_some_and(|b| b.tag == 0x01 && b.body.first() == Some(&0xff));
                }
                _ => {}
            }
        }
    }
    out.insert(
        "DNSNames".into(),
        if dns.is_empty() {
            Value::Null
        } else {
            Value::Array(dns)
        },
    );
    out.insert(
        "EmailAddresses".into(),
        if emails.is_empty() {
            Value::Null
        } else {
            Value::Array(emails)
        },
    );
    out.insert("BasicConstraintsValid".into(), bc_valid.into());
    out.insert("IsCA".into(), is_ca.into());
    out.insert(
        "PublicKey".into(),
        rsa_public_key(get(i.saturating_add(5))?.body)?,
    );
    Ok(Value::Object(out))
}

/// The JMESPath function.
pub(super) fn decode(a: &[Arg<'_>]) -> Result<Value, JmesError> {
    let err = |m: String| JmesError::Runtime(format!("x509_decode(): {m}"));
    let Some(Value::String(pem)) = a.first().map(Arg::value) else {
        return Err(err("the argument must be a PEM string".into()));
    };
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = pem
        .find(begin)
        .ok_or_else(|| err("no PEM certificate block".into()))?;
    let body = pem
        .get(start.saturating_add(begin.len())..)
        .unwrap_or_default();
    let (block, _) = body
        .split_once("-----END CERTIFICATE-----")
        .ok_or_else(|| err("unterminated PEM block".into()))?;
    let b64: String = block.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| err(e.to_string()))?;
    certificate(&der).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::super::jmes::compile;
    use serde_json::json;

    #[test]
    fn decodes_a_certificate_with_its_rsa_key_as_kyverno_gives_it() {
        // A TEST-ONLY self-signed certificate made with `openssl req -x509 -newkey rsa:2048`;
        // the expected values are what `openssl x509 -noout -text -serial -modulus` prints.
        let pem = include_str!("../../../../fixtures/kyverno/test-only-rsa-cert.pem");
        let out = compile("x509_decode(pem)")
            .unwrap()
            .search(&json!({ "pem": pem }))
            .unwrap()
            .into_owned();
        assert_eq!(out["Subject"]["CommonName"], "tollgate-test");
        assert_eq!(out["Subject"]["Organization"], json!(["Tollgate Test"]));
        assert_eq!(out["Issuer"]["CommonName"], "tollgate-test");
        assert_eq!(out["NotBefore"], "2026-12-03T12:28:26Z");
        assert_eq!(out["NotAfter"], "2036-11-30T12:28:26Z");
        assert_eq!(out["DNSNames"], json!(["a.example.test", "b.example.test"]));
        assert_eq!(out["IsCA"], true);
        assert_eq!(out["Version"], 3);
        // 0x53AE92D08E7618D65D803570863207E60E8C9C36
        assert_eq!(
            out["SerialNumber"],
            "477739353004764935681548494392509028943683951670"
        );
        // The modulus in decimal (openssl's hex through Python's int(hex, 16)): Kyverno's N
        // is big.Int.String(), E the exponent as a number.
        let n = include_str!("../../../../fixtures/kyverno/test-only-rsa-cert.modulus.txt");
        assert_eq!(out["PublicKey"]["N"], n.trim());
        assert_eq!(out["PublicKey"]["E"], 65537);
        assert!(compile("x509_decode('nope')")
            .unwrap()
            .search(&json!({}))
            .is_err());
    }

    #[test]
    fn an_ec_certificate_is_refused_as_kyverno_refuses_it() {
        let pem = include_str!("../../../../fixtures/kyverno/test-only-cert.pem");
        let e = compile("x509_decode(pem)")
            .unwrap()
            .search(&json!({ "pem": pem }))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("certificate should use rsa algorithm"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_extension_is_an_error_not_a_panic() {
        use base64::Engine as _;
        // TBS: version [0], serial, algorithm, issuer, validity, subject, key, then
        // extensions [3] holding one extension that is an empty SEQUENCE (once `f[0]`).
        let tbs: &[u8] = &[
            0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x30, 0x00, 0x30, 0x00, 0x30, 0x00,
            0x30, 0x00, 0x30, 0x00, 0xa3, 0x04, 0x30, 0x02, 0x30, 0x00,
        ];
        let mut der = vec![0x30, 0x1a, 0x30, 0x18];
        der.extend_from_slice(tbs);
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        let e = compile("x509_decode(pem)")
            .unwrap()
            .search(&json!({ "pem": pem }))
            .unwrap_err();
        assert!(e.to_string().contains("empty certificate extension"), "{e}");
    }
}
