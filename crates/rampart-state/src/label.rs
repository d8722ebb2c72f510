//! [`KeyLabel`]: a short, fixed-size, printable name for a key, kept by [`crate::TopK`] so
//! that reports can say *who* the heavy hitters are without holding on to heap strings.

use std::fmt;

/// Bytes a label keeps: enough for any IPv6 address in text.
pub const LABEL_BYTES: usize = 39;

/// Up to [`LABEL_BYTES`] bytes of a key's printable form, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyLabel {
    len: u8,
    bytes: [u8; LABEL_BYTES],
}

impl KeyLabel {
    /// The label of `text`, cut at [`LABEL_BYTES`] on a character boundary.
    pub fn new(text: &str) -> KeyLabel {
        let mut end = text.len().min(LABEL_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; LABEL_BYTES];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        // `end <= LABEL_BYTES < 256`.
        KeyLabel { len: end as u8, bytes }
    }

    /// A label written with `format_args!`, without a heap string (for addresses).
    pub fn from_display(value: impl fmt::Display) -> KeyLabel {
        use std::io::Write;
        let mut buf = [0u8; LABEL_BYTES];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        // A value longer than the buffer is cut: the write error only says so.
        let _ = write!(cursor, "{value}");
        let end = cursor.position() as usize;
        KeyLabel::new(std::str::from_utf8(&buf[..end]).unwrap_or_else(|e| {
            // A cut in the middle of a character: keep what is valid.
            std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or("")
        }))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Display for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cut_on_char_boundaries() {
        let ip: std::net::IpAddr = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(KeyLabel::from_display(ip).as_str(), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
        let long = "é".repeat(30);
        assert_eq!(KeyLabel::new(&long).as_str().chars().count(), 19);
        assert_eq!(KeyLabel::from_display(&long).as_str().chars().count(), 19);
    }
}
