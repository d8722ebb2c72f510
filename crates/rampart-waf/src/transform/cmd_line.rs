//! `t:cmdLine`: normalises a command line the way shells and `cmd.exe` forgive it, so one
//! pattern catches `c^md /c`, `"cmd" /c`, `cmd,/c`: deletes `\ " ' ^`, turns runs of
//! space/`,`/`;`/tab/CR/LF into one space, drops a space before `/` or `(`, lowercases.

use std::borrow::Cow;

use super::owned_if_changed;

/// `t:cmdLine` — `SecRule ARGS "@rx cmd/c" "id:1,t:cmdLine"`.
pub fn cmd_line(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len());
    let mut space = false;
    for &c in input {
        match c {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(c);
            }
            _ => {
                out.push(c.to_ascii_lowercase());
                space = false;
            }
        }
    }
    owned_if_changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(&*cmd_line(b"C^OMMAND /C DIR"), b"command/c dir");
        assert_eq!(&*cmd_line(b"\"command\" /c DiR"), b"command/c dir");
        assert_eq!(&*cmd_line(b"cmd,;  (x)"), b"cmd(x)");
        assert!(matches!(cmd_line(b"ls -la"), Cow::Borrowed(_)));
    }
}
