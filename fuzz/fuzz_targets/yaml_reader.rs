//! Fuzzes the YAML reader and emitter: any input either fails cleanly or reads back the same
//! after being written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_sops::stores::{yaml_read, yaml_write};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(docs) = yaml_read::read(text) {
        let written = yaml_write::write(&docs, 4);
        let again = yaml_read::read(&written).expect("our own output must parse");
        assert_eq!(yaml_write::write(&again, 4), written, "write/read/write is not stable");
    }
});
