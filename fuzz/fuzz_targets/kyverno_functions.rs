//! Fuzzes Kyverno's functions directly, with arguments a resource controls: certificates
//! (`x509_decode`), patterns (`random`), time layouts and durations, arithmetic on numbers,
//! quantities and durations, encodings. Input: a function index byte, then up to three
//! arguments separated by 0xFF (each JSON when it parses, else a string).
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use tollgate_core::kyverno::jmes;

/// (name, arity): the functions whose arguments come from resources.
const FUNCTIONS: &[(&str, usize)] = &[
    ("x509_decode", 1),
    ("random", 1),
    ("time_parse", 2),
    ("time_add", 2),
    ("time_diff", 2),
    ("time_since", 3),
    ("time_to_cron", 1),
    ("time_truncate", 2),
    ("time_between", 3),
    ("time_utc", 1),
    ("time_before", 2),
    ("add", 2),
    ("subtract", 2),
    ("multiply", 2),
    ("divide", 2),
    ("modulo", 2),
    ("round", 2),
    ("base64_decode", 1),
    ("parse_yaml", 1),
    ("parse_json", 1),
    ("semver_compare", 2),
    ("regex_match", 2),
    ("regex_replace_all", 3),
    ("pattern_match", 2),
    ("label_match", 2),
    ("image_normalize", 1),
    ("path_canonicalize", 1),
    ("truncate", 2),
    ("split", 2),
    ("replace", 4),
    ("items", 3),
    ("object_from_lists", 2),
    ("lookup", 2),
    ("to_number", 1),
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (name, arity) = FUNCTIONS[usize::from(which) % FUNCTIONS.len()];
    let mut args: Vec<serde_json::Value> = rest
        .split(|&b| b == 0xff)
        .take(arity)
        .map(|chunk| {
            let text = String::from_utf8_lossy(chunk).into_owned();
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        })
        .collect();
    if name == "x509_decode" {
        // Reach the DER reader: the bytes as a PEM certificate block.
        let der = rest;
        args = vec![serde_json::Value::String(format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        ))];
    }
    while args.len() < arity {
        args.push(serde_json::Value::String(String::new()));
    }
    let names: Vec<String> = (0..arity).map(|i| format!("a{i}")).collect();
    let expr = format!("{name}({})", names.join(", "));
    let data: serde_json::Map<String, serde_json::Value> = names.into_iter().zip(args).collect();
    if let Ok(compiled) = jmes::compile(&expr) {
        let _ = compiled.search(&serde_json::Value::Object(data));
    }
});
