//! A wall-clock budget for one rule on one resource, for engines that do not have their own
//! (regorus has an execution timer; the Kyverno engine has this). A policy with nested
//! `foreach` over large lists or JMESPath over huge arrays must not hang a CI job or an
//! admission request: the work stops and the rule reports an evaluation error.
//!
//! The budget is thread-local, so parallel workers never contend; the hot paths call
//! [`exceeded`], which reads the clock only every [`STRIDE`] calls. The clock starts at the
//! first read, so the many rules that finish within a stride never read it at all (the budget
//! starts at most one stride late, microseconds).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Calls to [`exceeded`] between two clock reads (an `Instant::now` is ~25 ns; the checks
/// sit on paths that run millions of times).
const STRIDE: u32 = 256;

thread_local! {
    static LIMIT: Cell<Option<Duration>> = const { Cell::new(None) };
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static COUNTDOWN: Cell<u32> = const { Cell::new(STRIDE) };
    static TRIPPED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with a budget of `limit` (none: no budget); returns its result and whether the
/// budget ran out (then the result is partial and must not be trusted).
pub fn run<R>(limit: Option<Duration>, f: impl FnOnce() -> R) -> (R, bool) {
    let outer = (LIMIT.get(), DEADLINE.get(), TRIPPED.get(), COUNTDOWN.get());
    LIMIT.set(limit);
    DEADLINE.set(None);
    TRIPPED.set(false);
    COUNTDOWN.set(STRIDE);
    let out = f();
    let tripped = TRIPPED.get();
    LIMIT.set(outer.0);
    DEADLINE.set(outer.1);
    TRIPPED.set(outer.2);
    COUNTDOWN.set(outer.3);
    (out, tripped)
}

/// Whether the current budget has run out; sticky once true, so every loop unwinds.
pub fn exceeded() -> bool {
    if TRIPPED.get() {
        return true;
    }
    let Some(limit) = LIMIT.get() else {
        return false;
    };
    let left = COUNTDOWN.get();
    if left > 0 {
        COUNTDOWN.set(left.saturating_sub(1));
        return false;
    }
    COUNTDOWN.set(STRIDE);
    let now = Instant::now();
    let Some(deadline) = DEADLINE.get() else {
        DEADLINE.set(now.checked_add(limit));
        // A zero budget is spent at once; any other starts now.
        TRIPPED.set(limit.is_zero());
        return limit.is_zero();
    };
    let out = now >= deadline;
    TRIPPED.set(out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_trips_and_a_fresh_one_does_not() {
        let ((), tripped) = run(Some(Duration::ZERO), || while !exceeded() {});
        assert!(tripped);
        let (n, tripped) = run(Some(Duration::from_secs(3600)), || {
            (0..10_000).filter(|_| !exceeded()).count()
        });
        assert_eq!((n, tripped), (10_000, false));
        // No budget: never exceeded, and an earlier trip does not leak into it.
        let (hit, tripped) = run(None, || (0..10_000).any(|_| exceeded()));
        assert!(!hit && !tripped);
    }
}
