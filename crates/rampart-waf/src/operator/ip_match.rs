//! `@ipMatch` and `@ipMatchFromFile` (alias `@ipMatchF`): the input is an IPv4 or IPv6
//! address inside one of the listed addresses or CIDR networks (comma- or space-separated;
//! files hold one per line). An IPv4 network matches only IPv4 input and IPv6 only IPv6, as in
//! ModSecurity's separate trees. Input that is not an address never matches.
//! `SecRule REMOTE_ADDR "@ipMatch 127.0.0.1,::1,10.0.0.0/8" "id:1,pass,nolog"`.

use std::net::IpAddr;
use std::path::Path;

use super::pm_from_file::read_list;
use super::{Operator, OperatorContext, OperatorError};

#[derive(Debug)]
pub(crate) struct IpMatch {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn mask4(prefix: u32) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) }
}

fn mask6(prefix: u32) -> u128 {
    if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) }
}

impl IpMatch {
    fn from_entries<'a>(name: &str, entries: impl Iterator<Item = &'a str>) -> Result<Self, OperatorError> {
        let mut m = IpMatch { v4: Vec::new(), v6: Vec::new() };
        for entry in entries {
            let invalid = |why: &str| OperatorError::InvalidArgument {
                name: name.to_string(),
                why: format!("`{entry}`: {why}"),
            };
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (a, Some(p.parse::<u32>().map_err(|_| invalid("bad prefix length"))?)),
                None => (entry, None),
            };
            match addr.parse::<IpAddr>().map_err(|_| invalid("not an IP address"))? {
                IpAddr::V4(a) => {
                    let prefix = prefix.unwrap_or(32);
                    if prefix > 32 {
                        return Err(invalid("IPv4 prefix longer than 32"));
                    }
                    let mask = mask4(prefix);
                    m.v4.push((u32::from(a) & mask, mask));
                }
                IpAddr::V6(a) => {
                    let prefix = prefix.unwrap_or(128);
                    if prefix > 128 {
                        return Err(invalid("IPv6 prefix longer than 128"));
                    }
                    let mask = mask6(prefix);
                    m.v6.push((u128::from(a) & mask, mask));
                }
            }
        }
        Ok(m)
    }
}

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    let entries = param.split(|c: char| c == ',' || c.is_ascii_whitespace()).filter(|e| !e.is_empty());
    Ok(Box::new(IpMatch::from_entries("ipMatch", entries)?))
}

pub(crate) fn build_from_file(name: &str, param: &str, base_dir: Option<&Path>) -> Result<Box<dyn Operator>, OperatorError> {
    let mut lines = Vec::new();
    for file in param.split_ascii_whitespace() {
        lines.extend(read_list(name, file, base_dir)?);
    }
    let texts: Vec<String> = lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
    Ok(Box::new(IpMatch::from_entries(name, texts.iter().map(String::as_str))?))
}

impl Operator for IpMatch {
    fn evaluate(&self, _ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        let Some(addr) = std::str::from_utf8(input).ok().and_then(|s| s.trim().parse::<IpAddr>().ok()) else {
            return false;
        };
        match addr {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::param::test_ctx::Ctx;

    #[test]
    fn networks() {
        let mut ctx = Ctx::default();
        let op = build("10.10.10.0/21, 2001:db8::/32 ,::1");
        assert!(op.as_ref().is_ok_and(|op| op.evaluate(&mut ctx, b"10.10.15.255")));
        assert!(op.as_ref().is_ok_and(|op| !op.evaluate(&mut ctx, b"10.10.16.0")));
        assert!(op.as_ref().is_ok_and(|op| op.evaluate(&mut ctx, b"2001:db8:1::5")));
        assert!(op.as_ref().is_ok_and(|op| op.evaluate(&mut ctx, b"::1")));
        assert!(op.is_ok_and(|op| !op.evaluate(&mut ctx, b"not an ip")));
        assert!(build("10.0.0.0/33").is_err());
        assert!(build("0.0.0.0/0").is_ok_and(|op| op.evaluate(&mut ctx, b"1.2.3.4")));
    }
}
