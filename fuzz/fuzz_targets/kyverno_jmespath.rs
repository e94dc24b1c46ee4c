//! Fuzzes Kyverno's JMESPath: the expression text a policy holds and the resource it reads.
//! Input: the expression, a NUL byte, then the data (JSON when it parses, else a string).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::kyverno::jmes;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (expr, rest) = text.split_once('\0').unwrap_or((text, "{}"));
    let value: serde_json::Value = serde_json::from_str(rest)
        .unwrap_or_else(|_| serde_json::Value::String(rest.to_owned()));
    let data = serde_json::json!({ "request": { "object": value.clone() }, "d": value });
    if let Ok(compiled) = jmes::compile(expr) {
        let _ = compiled.search(&data);
        let _ = compiled.search_list(&data);
    }
});
