//! `t:phpArgsNames`: rewrites a parameter name the way PHP registers it
//! (`php_register_variable_ex`): leading spaces dropped, ` ` and `.` become `_`, the first
//! unmatched `[` becomes `_`, and array suffixes (`a[b][c]`) are kept up to the last complete
//! bracket. A name starting with `[` (or `=`) registers nothing, giving an empty string.

use std::borrow::Cow;

use super::owned_if_changed;

/// `t:phpArgsNames` — `SecRule ARGS_NAMES "@streq a_b" "id:1,t:phpArgsNames"`.
pub fn php_args_names(input: &[u8]) -> Cow<'_, [u8]> {
    // ModSecurity reads the value as a C string for its bracket searches; stop at a NUL too.
    let value = match input.iter().position(|&c| c == 0) {
        Some(nul) => &input[..nul],
        None => input,
    };
    owned_if_changed(input, rewrite(value))
}

fn rewrite(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    if matches!(value.first(), Some(b'[' | b'=')) {
        return out;
    }
    let mut i = value.iter().take_while(|&&c| c == b' ').count();
    let mut is_array = false;
    let mut open_bracket = false;
    while i < value.len() {
        let c = value[i];
        if c == b'[' && !open_bracket {
            if value[i..].contains(&b']') {
                is_array = true;
                break;
            }
            out.push(b'_');
            open_bracket = true;
        } else if !open_bracket && (c == b' ' || c == b'.') {
            out.push(b'_');
        } else {
            out.push(c);
        }
        i += 1;
    }
    if is_array {
        // Copy each complete `[...]` group; a group of exactly one space (`[ ]`) is kept as `[`
        // followed by the `]`, as PHP does.
        while let Some(close) = value[i..].iter().position(|&c| c == b']').map(|p| p + i) {
            if close + 1 - i == 3 && value.get(i + 1) == Some(&b' ') {
                out.push(b'[');
                i += 2;
            }
            while i <= close {
                out.push(value[i]);
                i += 1;
            }
            if i >= value.len() || value[i] != b'[' {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[u8]) -> Vec<u8> {
        php_args_names(s).into_owned()
    }

    #[test]
    fn php_rules() {
        assert_eq!(p(b"a_b.c"), b"a_b_c");
        assert_eq!(p(b"a[_b c."), b"a__b c.");
        assert_eq!(p(b"[a_[b][]c d_"), b"");
        assert_eq!(p(b"a_[b][ ]c d_"), b"a_[b][]");
        assert_eq!(p(b"   ] [a][c][f. _ ]"), b"]_[a][c][f. _ ]");
        assert_eq!(p(b"a[]b"), b"a[]");
    }
}
