//! Comment handling for SQL/HTML/shell-style evasions: `t:removeComments`,
//! `t:removeCommentsChar`, `t:replaceComments`.
//!
//! These reproduce ModSecurity v3 exactly, quirks included, since CRS rules were tuned to its
//! output: `removeComments` copies the byte right after a closing `*/` or `-->` without looking
//! at it (at the very end that byte is C's NUL terminator, hence `"/*x*/"` → `"\0"`), and it
//! truncates the value at `--` or `#` outside a comment.

use std::borrow::Cow;

use super::owned_if_changed;

/// `t:removeComments` — removes `/* … */` and `<!-- … -->`; an unterminated comment becomes
/// one space: `SecRule ARGS "@rx union\s+select" "id:1,t:removeComments"`.
pub fn remove_comments(input: &[u8]) -> Cow<'_, [u8]> {
    // The byte at `i`, or the NUL terminator C would read just past the end.
    let at = |i: usize| input.get(i).copied().unwrap_or(0);
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut in_comment = false;
    let mut i = 0;
    while i < len {
        if !in_comment {
            if input[i] == b'/' && at(i + 1) == b'*' && i + 1 < len {
                in_comment = true;
                i += 2;
            } else if input[i] == b'<' && i + 3 < len && &input[i + 1..i + 4] == b"!--" {
                in_comment = true;
                i += 4;
            } else if (input[i] == b'-' && i + 1 < len && input[i + 1] == b'-') || input[i] == b'#' {
                break;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if input[i] == b'*' && i + 1 < len && input[i + 1] == b'/' {
            in_comment = false;
            out.push(at(i + 2));
            i += 3;
        } else if input[i] == b'-' && i + 2 < len && input[i + 1] == b'-' && input[i + 2] == b'>' {
            in_comment = false;
            out.push(at(i + 3));
            i += 4;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    owned_if_changed(input, out)
}

/// `t:removeCommentsChar` — deletes the comment markers themselves (`/*`, `*/`, `<!--`,
/// `-->`, `--`, `#`) and keeps what is between them:
/// `SecRule ARGS "@rx unionselect" "id:1,t:removeCommentsChar"`.
pub fn remove_comments_char(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        let skip = if rest.starts_with(b"/*") || rest.starts_with(b"*/") {
            2
        } else if rest.starts_with(b"<!--") {
            4
        } else if rest.starts_with(b"-->") {
            3
        } else if rest.starts_with(b"--") {
            2
        } else if rest[0] == b'#' {
            1
        } else {
            out.push(rest[0]);
            1
        };
        i += skip;
    }
    owned_if_changed(input, out)
}

/// `t:replaceComments` — each `/* … */` (terminated or not) becomes one space:
/// `SecRule ARGS "@rx union select" "id:1,t:replaceComments"`.
pub fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len());
    let mut in_comment = false;
    let mut i = 0;
    while i < input.len() {
        let pair = input.get(i..i + 2);
        if !in_comment {
            if pair == Some(b"/*") {
                in_comment = true;
                i += 2;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if pair == Some(b"*/") {
            in_comment = false;
            out.push(b' ');
            i += 2;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_comments_quirks() {
        assert_eq!(&*remove_comments(b"/*x*/"), b"\0");
        assert_eq!(&*remove_comments(b"a/*x*/bc"), b"abc");
        assert_eq!(&*remove_comments(b"a<!-- x -->b"), b"ab");
        assert_eq!(&*remove_comments(b"a /* x"), b"a  ");
        assert_eq!(&*remove_comments(b"1 -- x"), b"1 ");
        assert_eq!(&*remove_comments(b"1 # x"), b"1 ");
    }

    #[test]
    fn char_and_replace() {
        assert_eq!(&*remove_comments_char(b"a/*b*/c--d#e<!--f-->"), b"abcdef");
        assert_eq!(&*replace_comments(b"a/*b*/c/*d"), b"a c ");
        assert!(matches!(replace_comments(b"a*/b"), Cow::Borrowed(_)));
    }
}
