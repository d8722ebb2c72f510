//! The tests' pseudo-random bytes: xorshift64 from a fixed seed, so that every run checks the
//! same inputs.

/// Advance `s` one xorshift64 step and return the new state.
pub(crate) fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}
