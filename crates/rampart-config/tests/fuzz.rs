//! Mutation fuzzing: a few thousand damaged versions of `examples/reference.toml` go through
//! `parse`; none may panic, and every failure must carry at least one error with a position
//! inside the text (or none, for an unreadable file — which cannot happen here).

mod common;

/// xorshift64*: deterministic, so a failure reproduces from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Fragments that TOML and our validators care about.
const PIECES: &[&str] = &[
    "[", "]", "[[", "]]", "{", "}", "=", "\"", "'", ",", ".", "\n", "#", " ", "0", "-1", "99999999999999999999",
    "1.5", "true", "\"\"", "\"10s\"", "\"0s\"", "\"0/s\"", "\"1e400\"", "\"NaN\"", "é", "\u{0}", "\\u", "[limits]",
    "[[route]]", "mode = \"detect\"", "upstream = \"nope\"", "x = 1", "\"0.0.0.0:0\"", "\"::/0\"", "\"*\"", "\"../\"",
    "\"/dev/null\"", "\"[\"", "{ after = 0, duration = \"1s\" }", "\"18446744073709551615KiB\"",
];

fn mutate(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut out = text.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 => {
                let len = rng.below(40).min(out.len() - at.min(out.len()));
                out.drain(at..at + len);
            }
            1 | 2 => {
                let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                out.splice(at..at, piece.iter().copied());
            }
            3 => {
                if at < out.len() {
                    out[at] = (rng.below(95) + 32) as u8;
                }
            }
            4 => {
                // Duplicate a line (duplicate keys, duplicate sections).
                let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
                let line = lines[rng.below(lines.len())];
                out.splice(at..at, line.iter().copied().chain(std::iter::once(b'\n')));
            }
            _ => {
                // Swap a value for another key's value.
                let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
                let line = lines[rng.below(lines.len())];
                if let Some(eq) = line.iter().position(|b| *b == b'=') {
                    out.splice(at..at, line[eq + 1..].iter().copied());
                }
            }
        }
    }
    out
}

#[test]
fn mutated_reference_never_panics() {
    let dir = common::reference_dir("fuzz");
    let origin = dir.join("rampart.toml");
    let reference = common::reference_text();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut failures = 0usize;
    for i in 0..3000 {
        let bytes = mutate(&mut rng, reference.as_bytes());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines = text.lines().count().max(1);
        let result = std::panic::catch_unwind(|| rampart_config::parse(&text, &origin));
        match result {
            Err(_) => panic!("parse panicked on iteration {i}:\n{text}"),
            Ok(Ok(_)) => {}
            Ok(Err(errors)) => {
                failures += 1;
                assert!(!errors.is_empty(), "iteration {i}: an error without messages");
                for e in &errors {
                    assert!(e.line >= 1 && e.line <= lines + 1, "iteration {i}: line {} outside the text: {e}", e.line);
                    assert!(e.column >= 1, "iteration {i}: {e}");
                    assert!(!e.message.is_empty());
                }
            }
        }
    }
    // Most mutations break something; a fuzzer that never finds an error is not fuzzing.
    assert!(failures > 1000, "only {failures} of 3000 mutations were rejected");
    let _ = std::fs::remove_dir_all(dir);
}
