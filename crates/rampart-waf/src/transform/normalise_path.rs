//! `t:normalisePath` / `t:normalizePath` and `t:normalisePathWin` / `t:normalizePathWin`:
//! collapse `//`, `/./` and `dir/../` so that `/a/./b/../../etc/passwd` is seen as
//! `/etc/passwd`. A relative path keeps the `..` segments it cannot resolve (`../../x`); an
//! absolute one cannot climb above `/`. The Windows flavour first turns `\` into `/`.
//!
//! This follows ModSecurity's in-place algorithm (`normalize_path_inplace`) step for step,
//! with indices instead of pointers, because its corner cases (trailing `.`, `..` at the root)
//! are what the CRS LFI rules expect.

use std::borrow::Cow;

use super::owned_if_changed;

/// `t:normalisePath` — `SecRule REQUEST_FILENAME "@contains /etc/passwd" "id:1,t:normalisePath"`.
pub fn normalise_path(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'/') && input != b"." {
        return Cow::Borrowed(input);
    }
    owned_if_changed(input, normalize(input, false))
}

/// `t:normalisePathWin` — `SecRule ARGS "@contains /windows/win.ini" "id:1,t:normalisePathWin"`.
pub fn normalise_path_win(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(|&c| c == b'/' || c == b'\\') && input != b"." {
        return Cow::Borrowed(input);
    }
    owned_if_changed(input, normalize(input, true))
}

fn normalize(input: &[u8], win: bool) -> Vec<u8> {
    if input.is_empty() {
        return Vec::new();
    }
    let is_sep = |c: u8| c == b'/' || (win && c == b'\\');
    let mut b = input.to_vec();
    let end = b.len() - 1;
    let relative = !is_sep(b[0]);
    let trailing = is_sep(b[end]);
    // `dst` is the write position; it may dip below zero transiently while removing `..`,
    // exactly where the C code's pointer arithmetic does, and is clamped right after.
    let (mut src, mut dst): (usize, isize) = (0, 0);
    let mut hit_root = false;
    let mut done = false;

    while !done && src <= end && dst <= end as isize {
        if win {
            if b[src] == b'\\' {
                b[src] = b'/';
            }
            if src < end && b[src + 1] == b'\\' {
                b[src + 1] = b'/';
            }
        }
        let mut skip_copy = false;
        'segment: {
            if src == end {
                done = true;
            } else if b[src + 1] != b'/' {
                break 'segment; // not the end of a path segment
            }
            if src != end && b[src] == b'/' {
                break 'segment; // empty segment: the copy below collapses it
            }
            if b[src] == b'.' {
                let prev = |d: isize| if d > 0 { b[(d - 1) as usize] } else { 0 };
                if dst > 0 && prev(dst) == b'.' {
                    // A back-reference.
                    if relative && (hit_root || dst - 2 <= 0) {
                        hit_root = true;
                        break 'segment; // nothing to climb: keep the `..`
                    }
                    dst -= 3;
                    while dst > 0 && b[dst as usize] != b'/' {
                        dst -= 1;
                    }
                    if dst <= 0 {
                        hit_root = true;
                        dst = 0;
                        if !relative && src == end {
                            dst += 1;
                        }
                    }
                    if done {
                        skip_copy = true;
                        break 'segment;
                    }
                    src += 1;
                } else if dst == 0 {
                    // A relative self-reference at the start.
                    if done {
                        skip_copy = true;
                        break 'segment;
                    }
                    src += 1;
                } else if prev(dst) == b'/' {
                    // A self-reference.
                    if done {
                        skip_copy = true;
                        break 'segment;
                    }
                    dst -= 1;
                    src += 1;
                }
            } else if dst > 0 {
                hit_root = false; // a regular segment
            }
        }
        if skip_copy {
            continue;
        }
        if b[src] == b'/' {
            while src < end && is_sep(b[src + 1]) {
                src += 1;
            }
            if relative && dst == 0 {
                // A relative path does not start with the slash.
                src += 1;
                continue;
            }
        }
        b[dst as usize] = b[src];
        dst += 1;
        src += 1;
    }
    let mut len = dst.max(0) as usize;
    if !trailing && len > 0 && b[len - 1] == b'/' {
        len -= 1;
    }
    b.truncate(len);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &[u8]) -> Vec<u8> {
        normalise_path(s).into_owned()
    }

    #[test]
    fn resolves_dots() {
        assert_eq!(n(b"/dir/foo//bar"), b"/dir/foo/bar");
        assert_eq!(n(b"dir/../../foo"), b"../foo");
        assert_eq!(n(b"."), b"");
        assert_eq!(n(b"./.."), b"..");
        assert_eq!(n(b"/./.././../../../../../../\0/../etc/./passwd"), b"/etc/passwd");
        assert_eq!(n(b"/dir/./subdir/../subsubdir/../subsubsubdir/../"), b"/dir/");
        assert_eq!(&*normalise_path_win(br"C:\a\..\windows\.\win.ini"), b"C:/windows/win.ini");
    }
}
