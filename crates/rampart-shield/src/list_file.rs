//! Address list files, as published and as operators write them, all read by one parser:
//!
//! * plain CIDR, one per line, `#` comments;
//! * Spamhaus DROP / EDROP: `1.10.16.0/20 ; SBL256894`, `;` comment lines;
//! * FireHOL netsets: `#` comment header, bare addresses and CIDR prefixes.
//!
//! Everything after `#` or `;` is a comment; a line left with exactly one token must be an
//! address (a /32 or /128) or a prefix (host bits are cleared). Every bad line is reported
//! with its file and line number, and a file with any bad line is refused as a whole: a
//! half-read deny list is worse than the previous complete one.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

/// A list file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListFileError {
    #[error("{}: cannot read list: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: `{text}` is not an IP address or CIDR prefix", path.display())]
    Parse { path: PathBuf, line: usize, text: String },
}

/// Read and parse one list file.
pub fn read_list(path: &Path) -> Result<Vec<IpNet>, Vec<ListFileError>> {
    let text = fs::read_to_string(path)
        .map_err(|source| vec![ListFileError::Read { path: path.to_path_buf(), source }])?;
    parse_list(&text, path)
}

/// Parse a list's text; `path` names it in errors. Returns every bad line, not only the first.
pub fn parse_list(text: &str, path: &Path) -> Result<Vec<IpNet>, Vec<ListFileError>> {
    let mut nets = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let content = raw.split(['#', ';']).next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let mut tokens = content.split_whitespace();
        match (tokens.next().and_then(parse_entry), tokens.next()) {
            (Some(net), None) => nets.push(net),
            _ => errors.push(ListFileError::Parse {
                path: path.to_path_buf(),
                line: index + 1,
                text: raw.trim().chars().take(80).collect(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(nets)
    } else {
        Err(errors)
    }
}

fn parse_entry(token: &str) -> Option<IpNet> {
    if token.contains('/') {
        token.parse::<IpNet>().ok().map(|n| n.trunc())
    } else {
        token.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(text: &str) -> Vec<String> {
        parse_list(text, Path::new("lists/x.txt")).unwrap_err().iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn plain_cidr_with_comments() {
        let nets = parse_list("# deny\n192.0.2.0/24\n\n2001:db8::/32  # docs\n", Path::new("p")).unwrap();
        assert_eq!(nets, vec!["192.0.2.0/24".parse::<IpNet>().unwrap(), "2001:db8::/32".parse().unwrap()]);
        assert_eq!(errors_of("192.0.2.0/24\n192.0.2.0/33\n"), vec![
            "lists/x.txt:2: `192.0.2.0/33` is not an IP address or CIDR prefix"
        ]);
    }

    #[test]
    fn spamhaus_drop() {
        let text = "; Spamhaus DROP List 2024/01/01\n; Last-Modified: Mon\n1.10.16.0/20 ; SBL256894\n\
                    1.19.0.0/16 ; SBL434604\n";
        let nets = parse_list(text, Path::new("drop.txt")).unwrap();
        assert_eq!(nets.len(), 2);
        assert_eq!(nets[0], "1.10.16.0/20".parse::<IpNet>().unwrap());
        assert_eq!(errors_of("; header\n1.10.16.0/20 ; SBL1\nSBL256894 ; oops\n"), vec![
            "lists/x.txt:3: `SBL256894 ; oops` is not an IP address or CIDR prefix"
        ]);
    }

    #[test]
    fn firehol_netset() {
        let text = "#\n# firehol_level1\n#\n0.0.0.0/8\n1.2.3.4\n5.6.7.0/24\n";
        let nets = parse_list(text, Path::new("firehol_level1.netset")).unwrap();
        assert_eq!(nets[1], "1.2.3.4/32".parse::<IpNet>().unwrap());
        assert_eq!(nets.len(), 3);
        let errs = errors_of("# h\n5.6.7.0/24\n5.6.7.8 9.9.9.9\n300.1.1.1\n");
        assert_eq!(errs.len(), 2);
        assert!(errs[0].starts_with("lists/x.txt:3:"));
        assert!(errs[1].starts_with("lists/x.txt:4:"));
    }

    #[test]
    fn host_bits_are_cleared_and_missing_files_named() {
        assert_eq!(parse_list("10.1.2.3/8", Path::new("h")).unwrap(), vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]);
        let err = read_list(Path::new("/nonexistent/rampart/deny.txt")).unwrap_err();
        assert!(err[0].to_string().starts_with("/nonexistent/rampart/deny.txt: cannot read list"));
    }
}
