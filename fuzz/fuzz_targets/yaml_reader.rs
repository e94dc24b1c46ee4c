//! Fuzzes the YAML reader and emitter: any input either fails cleanly or is stable after one
//! write/read round; the Kubernetes schema with positions (the manifest loader) never panics
//! and records a position for every document it returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_sops::stores::yaml_read::{self, Schema};
use tollgate_sops::stores::yaml_write;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(docs) = yaml_read::read(text) {
        // One round may retype a value exactly as yaml.v3 does (the float -0 is written `-0`,
        // which reads back as the integer 0); after that, output must be stable.
        let first = yaml_write::write(&docs, 4);
        let again = yaml_read::read(&first).expect("our own output must parse");
        let second = yaml_write::write(&again, 4);
        let third = yaml_write::write(&yaml_read::read(&second).expect("our own output must parse"), 4);
        assert_eq!(second, third, "write/read/write is not stable");
    }
    if let Ok(docs) = yaml_read::read_documents(text, Schema::Kubernetes) {
        for d in docs {
            assert!(d.line >= 1 || d.positions.is_empty(), "a document with fields has a start line");
        }
    }
});
