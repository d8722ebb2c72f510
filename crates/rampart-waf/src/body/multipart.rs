//! `multipart/form-data` bodies, with ModSecurity's strict-parsing flags (`MULTIPART_*`) that
//! CRS and the recommended configuration read. Fields go to `ARGS_POST`, files to `FILES`,
//! `FILES_NAMES`, `FILES_SIZES`, `FILES_TMP_CONTENT`; every part's headers to
//! `MULTIPART_PART_HEADERS`.

use super::BodyError;
use crate::tx::data::{MultipartFlags, TxData};

/// Most bytes of one file's content kept for `FILES_TMP_CONTENT`.
const MAX_TMP_CONTENT: usize = 64 * 1024;

/// Find the boundary in a `Content-Type` value, setting the boundary flags.
pub fn boundary(content_type: &[u8], flags: &mut MultipartFlags) -> Result<Vec<u8>, BodyError> {
    let lower = content_type.to_ascii_lowercase();
    let pos = find(&lower, b"boundary").ok_or_else(|| BodyError("Multipart: Boundary not found in C-T".into()))?;
    let before = &lower[..pos];
    if !before.contains(&b';') && !before.contains(&b',') {
        flags.missing_semicolon = true;
    }
    let mut rest = &content_type[pos + b"boundary".len()..];
    let ws_before = rest.first().is_some_and(|c| c.is_ascii_whitespace());
    rest = trim_start(rest);
    let Some(after_eq) = rest.strip_prefix(b"=") else {
        return Err(BodyError("Multipart: Invalid boundary in C-T (missing =)".into()));
    };
    let ws_after = after_eq.first().is_some_and(|c| c.is_ascii_whitespace());
    flags.boundary_whitespace |= ws_before || ws_after;
    let mut value = trim_start(after_eq);
    if let Some(end) = value.iter().position(|c| *c == b';' || *c == b',') {
        value = &value[..end];
    }
    let trimmed = trim_end(value);
    flags.boundary_whitespace |= trimmed.len() != value.len();
    let value = trimmed;
    let value = if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
        flags.boundary_quoted = true;
        &value[1..value.len() - 1]
    } else {
        value
    };
    if value.is_empty() || value.len() > 70 || value.iter().any(|c| !(0x20..0x7f).contains(c)) {
        return Err(BodyError("Multipart: Invalid boundary in C-T".into()));
    }
    if value.contains(&b'"') {
        flags.invalid_quoting = true;
        return Err(BodyError("Multipart: Invalid boundary in C-T (quote)".into()));
    }
    Ok(value.to_vec())
}

/// Limits the multipart parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most parts.
    pub parts: usize,
    /// Most arguments (fields) stored.
    pub arguments: usize,
    /// Most bytes of the body outside file contents (`SecRequestBodyNoFilesLimit`).
    pub no_files: usize,
}

/// Parse a multipart body into `data`.
pub fn parse(body: &[u8], content_type: &[u8], limits: Limits, data: &mut TxData) -> Result<(), BodyError> {
    let (parts_limit, arguments_limit) = (limits.parts, limits.arguments);
    let mut file_bytes = 0usize;
    let mut counted_end = body.len();
    let boundary = boundary(content_type, &mut data.multipart)?;
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(&boundary);
    let lines = split_lines(body, &mut data.multipart);
    let mut i = 0;
    // Preamble.
    let mut preamble = false;
    while i < lines.len() && !is_delimiter(lines[i].0, &delimiter) {
        preamble |= !lines[i].0.iter().all(u8::is_ascii_whitespace);
        check_unmatched(lines[i].0, &delimiter, &mut data.multipart);
        i += 1;
    }
    data.multipart.data_before = preamble;
    if i >= lines.len() {
        return Err(BodyError("Multipart: final boundary missing".into()));
    }
    let mut parts = 0usize;
    let mut closed = false;
    while i < lines.len() {
        let (line, _) = lines[i];
        if closing(line, &delimiter) {
            closed = true;
            // ModSecurity counts the body up to the closing delimiter against the limit.
            counted_end = (line.as_ptr() as usize).saturating_sub(body.as_ptr() as usize);
            i += 1;
            break;
        }
        i += 1;
        parts += 1;
        if parts > parts_limit {
            data.multipart.file_limit_exceeded = true;
            return Err(BodyError(format!("Multipart: more than {parts_limit} parts")));
        }
        // Headers.
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        while i < lines.len() && !lines[i].0.is_empty() {
            let l = lines[i].0;
            i += 1;
            if l[0] == b' ' || l[0] == b'\t' {
                data.multipart.header_folding = true;
                match headers.last_mut() {
                    Some((_, v)) => {
                        v.push(b' ');
                        v.extend_from_slice(trim_start(l));
                    }
                    None => data.multipart.invalid_header_folding = true,
                }
                continue;
            }
            if l.iter().any(|c| (*c < 0x20 && *c != b'\t') || *c == 0x7f) {
                return Err(BodyError("Multipart: Invalid part header (contains invalid character)".into()));
            }
            let Some(colon) = l.iter().position(|c| *c == b':') else {
                return Err(BodyError("Multipart: Invalid part header (colon missing)".into()));
            };
            headers.push((trim_end(&l[..colon]).to_vec(), trim_start(&l[colon + 1..]).to_vec()));
        }
        if i >= lines.len() {
            return Err(BodyError("Multipart: final boundary missing".into()));
        }
        i += 1; // empty line
        // Content up to the next delimiter.
        let mut content = Vec::new();
        let mut first = true;
        while i < lines.len() && !is_delimiter(lines[i].0, &delimiter) {
            let (l, ending) = lines[i];
            check_unmatched(l, &delimiter, &mut data.multipart);
            if !first {
                content.extend_from_slice(lines[i - 1].1);
            }
            let _ = ending;
            content.extend_from_slice(l);
            first = false;
            i += 1;
        }
        file_bytes += store_part(&headers, content, arguments_limit, data)?;
    }
    if counted_end.saturating_sub(file_bytes) > limits.no_files {
        return Err(BodyError("Request body excluding files is bigger than the maximum expected.".into()));
    }
    if !closed {
        return Err(BodyError("Multipart: final boundary missing".into()));
    }
    data.multipart.data_after = lines[i..].iter().any(|(l, _)| !l.iter().all(u8::is_ascii_whitespace));
    Ok(())
}

/// Store one part; returns the size of its content if it is a file, else 0.
fn store_part(headers: &[(Vec<u8>, Vec<u8>)], content: Vec<u8>, limit: usize, data: &mut TxData) -> Result<usize, BodyError> {
    let disposition = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(b"content-disposition"))
        .map(|(_, v)| v.as_slice())
        .ok_or_else(|| BodyError("Multipart: part missing Content-Disposition header".into()))?;
    let (name, filename) = disposition_params(disposition, &mut data.multipart)?;
    let name_s = String::from_utf8_lossy(&name).into_owned();
    for (k, v) in headers {
        let mut line = k.clone();
        line.extend_from_slice(b": ");
        line.extend_from_slice(v);
        data.multipart_part_headers.add(name_s.clone(), line);
    }
    data.multipart_name.add(name_s.clone(), name.clone());
    match filename {
        Some(f) => {
            data.files.add(name_s.clone(), f.clone());
            data.multipart_filename.add(name_s.clone(), f);
            data.files_sizes.add(name_s.clone(), content.len().to_string().into_bytes());
            let size = content.len();
            let kept = content[..content.len().min(MAX_TMP_CONTENT)].to_vec();
            data.files_tmp_content.add(name_s, kept);
            Ok(size)
        }
        None => {
            if data.args_post.len() >= limit {
                return Err(BodyError("Multipart: arguments limit exceeded".into()));
            }
            data.args_post.add(name_s, content);
            Ok(0)
        }
    }
}

/// `form-data; name="a"; filename="b"` → (name, filename).
fn disposition_params(value: &[u8], flags: &mut MultipartFlags) -> Result<(Vec<u8>, Option<Vec<u8>>), BodyError> {
    let mut parts = value.splitn(2, |c| *c == b';');
    let kind = trim_end(trim_start(parts.next().unwrap_or_default()));
    if !kind.eq_ignore_ascii_case(b"form-data") {
        return Err(BodyError("Multipart: Invalid Content-Disposition header".into()));
    }
    let mut rest = parts.next().unwrap_or_default();
    let (mut name, mut filename) = (None, None);
    loop {
        rest = trim_start(rest);
        while let Some(r) = rest.strip_prefix(b";") {
            rest = trim_start(r);
        }
        if rest.is_empty() {
            break;
        }
        let eq = rest.iter().position(|c| *c == b'=').ok_or_else(|| BodyError("Multipart: Invalid Content-Disposition parameter".into()))?;
        let key = trim_end(&rest[..eq]).to_ascii_lowercase();
        let mut v = trim_start(&rest[eq + 1..]);
        let value;
        if let Some(q) = v.strip_prefix(b"\"") {
            let mut out = Vec::new();
            let mut j = 0;
            let mut done = false;
            while j < q.len() {
                match q[j] {
                    b'\\' if j + 1 < q.len() && (q[j + 1] == b'"' || q[j + 1] == b'\\') => {
                        out.push(q[j + 1]);
                        j += 2;
                    }
                    b'"' => {
                        done = true;
                        j += 1;
                        break;
                    }
                    c => {
                        out.push(c);
                        j += 1;
                    }
                }
            }
            if !done {
                flags.invalid_quoting = true;
                return Err(BodyError("Multipart: Invalid quoting in Content-Disposition".into()));
            }
            value = out;
            v = &q[j..];
        } else {
            if v.first() == Some(&b'\'') {
                flags.invalid_quoting = true;
            }
            let end = v.iter().position(|c| *c == b';').unwrap_or(v.len());
            value = trim_end(&v[..end]).to_vec();
            v = &v[end..];
        }
        match key.as_slice() {
            b"name" => name = Some(value),
            b"filename" => filename = Some(value),
            b"filename*" if filename.is_none() => filename = Some(value),
            _ => {}
        }
        rest = v;
    }
    let name = name.ok_or_else(|| BodyError("Multipart: Content-Disposition header missing name".into()))?;
    Ok((name, filename))
}

/// Split into (line, line ending) pairs, flagging LF-only and mixed endings.
fn split_lines<'a>(body: &'a [u8], flags: &mut MultipartFlags) -> Vec<(&'a [u8], &'a [u8])> {
    let mut out = Vec::new();
    let (mut crlf, mut lf) = (false, false);
    let mut start = 0;
    while start < body.len() {
        match memchr::memchr(b'\n', &body[start..]) {
            Some(p) => {
                let end = start + p;
                if end > start && body[end - 1] == b'\r' {
                    crlf = true;
                    out.push((&body[start..end - 1], &body[end - 1..=end]));
                } else {
                    lf = true;
                    out.push((&body[start..end], &body[end..=end]));
                }
                start = end + 1;
            }
            None => {
                out.push((&body[start..], &b""[..]));
                break;
            }
        }
    }
    flags.lf_line = lf;
    flags.crlf_lf_lines = crlf && lf;
    out
}

/// Flag lines that look like a multipart boundary but are not ours, as ModSecurity does:
/// `1` when the line starts with our delimiter and goes on with something else, `2` for a
/// foreign boundary (`--` followed only by boundary characters). A foreign boundary wins.
fn check_unmatched(line: &[u8], delimiter: &[u8], flags: &mut MultipartFlags) {
    let Some(rest) = line.strip_prefix(b"--") else { return };
    let rest = trim_end(rest);
    if rest.is_empty() || is_delimiter(line, delimiter) {
        return;
    }
    if line.starts_with(delimiter) {
        flags.unmatched_boundary = flags.unmatched_boundary.max(1);
    } else if rest.iter().all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(c)) {
        flags.unmatched_boundary = 2;
    }
}

fn is_delimiter(line: &[u8], delimiter: &[u8]) -> bool {
    line.strip_prefix(delimiter).is_some_and(|rest| trim_end(rest).is_empty() || trim_end(rest) == b"--")
}

fn closing(line: &[u8], delimiter: &[u8]) -> bool {
    line.strip_prefix(delimiter).is_some_and(|rest| trim_end(rest) == b"--")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

fn trim_start(s: &[u8]) -> &[u8] {
    let p = s.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(s.len());
    &s[p..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let p = s.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(0, |p| p + 1);
    &s[..p]
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits { parts: 10, arguments: 10, no_files: 1000 };

    #[test]
    fn fields_and_files() {
        let body = b"--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xx\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.php\"\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--xx--\r\n";
        let mut d = TxData::default();
        parse(body, b"multipart/form-data; boundary=xx", L, &mut d).unwrap();
        assert_eq!(d.args_post.get("a"), Some(&b"1"[..]));
        assert_eq!(d.files.get("f"), Some(&b"x.php"[..]));
        assert_eq!(d.files_sizes.get("f"), Some(&b"12"[..]));
        assert!(!d.multipart.strict_error(false));
    }

    #[test]
    fn broken_bodies_are_errors() {
        let mut d = TxData::default();
        assert!(parse(b"--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1", b"multipart/form-data; boundary=xx", L, &mut d).is_err());
        assert!(parse(b"", b"multipart/form-data", L, &mut d).is_err());
        let mut d = TxData::default();
        assert!(parse(b"junk\r\n--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xx--\r\n", b"multipart/form-data; boundary=xx", L, &mut d).is_ok());
        assert!(d.multipart.data_before);
    }
}
