//! Fuzzes everything that reads an encrypted file before any key is involved: every store,
//! metadata extraction, `ENC[...]` parsing, tree paths and `.sops.yaml`-shaped input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_sops::{cipher, file, treepath, Format};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini, Format::Binary] {
        let _ = file::read_sealed(data, format);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let key = cipher::DataKey::from_slice(&[7u8; 32]).expect("32 bytes");
        let _ = cipher::decrypt(&key, text, b"a:");
        let _ = treepath::parse(text);
    }
});
