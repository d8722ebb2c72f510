//! `t:htmlEntityDecode`: decodes `&#NNN;`, `&#xHH;` and the named entities `&quot; &amp; &lt;
//! &gt; &nbsp;`, with or without the closing `;` (browsers accept both, so attackers use both).
//! A numeric entity decodes to one byte (its value modulo 256, as ModSecurity's cast does), so
//! `&#x3c;` and `&#60` both give `<`. Anything that does not parse is copied through.

use std::borrow::Cow;

use super::{hex_value, is_hex, owned_if_changed};

/// `t:htmlEntityDecode` — `SecRule ARGS "@rx <script" "id:1,t:htmlEntityDecode"`.
pub fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'&') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'&' {
            if let Some((byte, next)) = entity(input, i) {
                out.push(byte);
                // Skip the optional `;`.
                i = if input.get(next) == Some(&b';') { next + 1 } else { next };
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    owned_if_changed(input, out)
}

/// Parse the entity starting at `input[at] == '&'`: the decoded byte and the index just after
/// its name or digits.
fn entity(input: &[u8], at: usize) -> Option<(u8, usize)> {
    if input.get(at + 1) == Some(&b'#') {
        let (radix, start) = match input.get(at + 2) {
            Some(b'x' | b'X') => (16u64, at + 3),
            _ => (10u64, at + 2),
        };
        let valid = |c: u8| if radix == 16 { is_hex(c) } else { c.is_ascii_digit() };
        let end = start + input[start..].iter().take_while(|&&c| valid(c)).count();
        if end == start {
            return None;
        }
        // strtol saturates at LONG_MAX on overflow; the cast to a byte then gives 0xff.
        let value = input[start..end].iter().try_fold(0u64, |acc, &c| {
            acc.checked_mul(radix)?.checked_add(u64::from(hex_value(c)))
        });
        let byte = match value {
            Some(v) if v <= i64::MAX as u64 => v as u8,
            _ => 0xff,
        };
        return Some((byte, end));
    }
    let start = at + 1;
    let end = start + input[start..].iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    let name = &input[start..end];
    let byte = if name.eq_ignore_ascii_case(b"quot") {
        b'"'
    } else if name.eq_ignore_ascii_case(b"amp") {
        b'&'
    } else if name.eq_ignore_ascii_case(b"lt") {
        b'<'
    } else if name.eq_ignore_ascii_case(b"gt") {
        b'>'
    } else if name.eq_ignore_ascii_case(b"nbsp") {
        0xa0
    } else {
        return None;
    };
    Some((byte, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_named() {
        assert_eq!(&*html_entity_decode(b"&#x3c;&#60&lt&GT;&nbsp;"), b"<<<>\xa0");
        assert_eq!(&*html_entity_decode(b"&#xg;&foo;&#;&"), b"&#xg;&foo;&#;&");
        assert_eq!(&*html_entity_decode(b"&#0000000000000000000000000000123;"), b"{");
        assert_eq!(&*html_entity_decode(b"&#99999999999999999999999;"), b"\xff");
        assert_eq!(&*html_entity_decode(b"&#X2g;"), b"\x02g;");
    }
}
