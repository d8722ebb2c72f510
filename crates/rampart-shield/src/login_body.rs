//! Reading the user name and password out of a login request body: an HTML form
//! (`application/x-www-form-urlencoded`) or a JSON object.
//!
//! Only what the guard needs is decoded, and the password is handed to the caller for hashing
//! and dropped; nothing here logs.

/// The credentials a login body carries, as far as they could be read.
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

/// Read `user_field` and `password_field` from `body`, a form or (when the content type says
/// JSON, or the body starts with `{`) a JSON object.
pub fn credentials(content_type: Option<&str>, body: &[u8], user_field: &str, password_field: &str) -> Credentials {
    let json = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if json {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
        return Credentials { username: field(user_field), password: field(password_field).map(String::into_bytes) };
    }
    let mut out = Credentials { username: None, password: None };
    for pair in body.split(|b| *b == b'&') {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = percent_decode(name);
        if out.username.is_none() && name == user_field.as_bytes() {
            out.username = Some(String::from_utf8_lossy(&percent_decode(value)).into_owned());
        } else if out.password.is_none() && name == password_field.as_bytes() {
            out.password = Some(percent_decode(value));
        }
    }
    out
}

/// Form decoding: `+` is a space, `%XX` a byte; a malformed escape stays as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(s.get(i + 1)), hex(s.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: Option<&u8>) -> Option<u8> {
    let b = *b?;
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_decoded() {
        let c = credentials(
            Some("application/x-www-form-urlencoded"),
            b"username=Ann%40x.org&password=a+b%21&x=1",
            "username",
            "password",
        );
        assert_eq!(c.username.as_deref(), Some("Ann@x.org"));
        assert_eq!(c.password.as_deref(), Some(&b"a b!"[..]));
        let c = credentials(None, b"user=%4&pw", "user", "pw");
        assert_eq!(c.username.as_deref(), Some("%4"));
        assert_eq!(c.password.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn json_fields_are_read() {
        let c = credentials(Some("application/json"), br#"{"email":"a@b","secret":"s3"}"#, "email", "secret");
        assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("a@b"), Some(&b"s3"[..])));
        let c = credentials(None, b" {\"email\": 5}", "email", "secret");
        assert!(c.username.is_none() && c.password.is_none());
    }
}
