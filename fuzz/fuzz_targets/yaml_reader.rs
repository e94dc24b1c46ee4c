//! Fuzzes the YAML reader and emitter: any input either fails cleanly or reads back the same
//! after being written; the Kubernetes schema with positions (the manifest loader) never panics
//! and records a position for every document it returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_sops::stores::yaml_read::{self, Schema};
use tollgate_sops::stores::yaml_write;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(docs) = yaml_read::read(text) {
        let written = yaml_write::write(&docs, 4);
        let again = yaml_read::read(&written).expect("our own output must parse");
        assert_eq!(yaml_write::write(&again, 4), written, "write/read/write is not stable");
    }
    if let Ok(docs) = yaml_read::read_documents(text, Schema::Kubernetes) {
        for d in docs {
            assert!(d.line >= 1 || d.positions.is_empty(), "a document with fields has a start line");
        }
    }
});
