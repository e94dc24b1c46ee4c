//! Fuzzes field paths as policies write them (`data["password"]`, `spec.containers[0].image`,
//! conftest `field`, Kyverno failure paths): turning any text into the loader's form must not
//! panic, and the form is a fixed point (a canonical path canonicalises to itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::manifest::canonical_path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let once = canonical_path(text);
    assert_eq!(canonical_path(&once), once, "not a fixed point: {text:?}");
});
