//! What `tollgate check`, pre-commit and the admission webhook share: Kubernetes manifests
//! loaded with the source position of every field, ready for policy evaluation. No CLI, no
//! async.

#![forbid(unsafe_code)]

pub mod admission;
pub mod cel;
pub mod change;
pub mod checks;
pub mod config;
pub mod engine;
pub mod error;
pub mod finding;
pub mod git;
pub mod image;
pub mod kyverno;
pub mod limit;
pub mod manifest;
pub mod packs;
pub mod policyset;
pub mod render;
pub mod report;
pub mod scaffold;
pub mod signature;
pub mod suppress;
pub mod wildcard;

pub use error::Error;

/// Runs one evaluation so that a panic in it (a bug) becomes an error for that resource and
/// rule, with the panic's text, and the run goes on: ruff does the same per file.
pub(crate) fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_an_error_with_its_text() {
        assert_eq!(super::contained(|| 7), Ok(7));
        let v: Vec<u8> = Vec::new();
        let e = super::contained(|| v[usize::from(v.is_empty())]).unwrap_err();
        assert!(e.contains("index out of bounds"), "{e}");
        let e = super::contained(|| -> u8 { panic!("boom {}", 1) }).unwrap_err();
        assert_eq!(e, "boom 1");
    }
}
