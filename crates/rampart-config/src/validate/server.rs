//! `[server]` and `[[listener]]`.

use std::collections::HashMap;

use crate::context::Ctx;
use crate::error::ErrorKind;
use crate::model::{ClientAddress, Listener, Server, SniCert, Tls};
use crate::raw::{RawListener, RawServer};

use super::values::{flag, name, networks, readable_file, socket_addr};
use super::values::choice;

/// `[server]`: trusted proxies must be CIDRs; a header-based `client_address` needs at least
/// one trusted proxy, or no header would ever be believed.
pub(crate) fn server(ctx: &mut Ctx<'_>, raw: Option<&RawServer>) -> Server {
    let Some(raw) = raw else { return Server::default() };
    let trusted_proxies = networks(ctx, "trusted_proxies", &raw.trusted_proxies);
    let client_address = choice(
        ctx,
        "client_address",
        &raw.client_address,
        &[
            ("peer", ClientAddress::Peer),
            ("x-forwarded-for", ClientAddress::XForwardedFor),
            ("forwarded", ClientAddress::Forwarded),
            ("proxy-protocol", ClientAddress::ProxyProtocol),
        ],
        ClientAddress::Peer,
    );
    let listed = raw.trusted_proxies.as_ref().is_some_and(|l| !l.get_ref().is_empty());
    if client_address != ClientAddress::Peer && !listed {
        if let Some(v) = &raw.client_address {
            ctx.error(
                Some(&v.span()),
                ErrorKind::Inconsistent,
                format!(
                    "`client_address = \"{}\"` needs `trusted_proxies` (such as [\"10.0.0.0/8\"]): only those peers' headers are believed",
                    v.get_ref()
                ),
            );
        }
    }
    Server { trusted_proxies, client_address }
}

/// `[[listener]]`: addresses parse and are unique; TLS files exist; SNI needs a default cert.
pub(crate) fn listeners(ctx: &mut Ctx<'_>, raw: &[RawListener], complete: bool) -> Vec<Listener> {
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for l in raw {
        let Some(addr_raw) = &l.address else {
            let at = l.tls.as_ref().map(|t| t.span()).unwrap_or(0..0);
            ctx.error(Some(&at), ErrorKind::MissingKey, "missing key `address` in [[listener]], such as address = \"0.0.0.0:443\"");
            continue;
        };
        let address = socket_addr(ctx, "address", addr_raw);
        if let Some(a) = address {
            if let Some(first) = seen.insert(a, addr_raw.span()) {
                let (line, _) = ctx.position(first.start);
                ctx.error(Some(&addr_raw.span()), ErrorKind::Duplicate, format!("listener address {a} is already used by the listener on line {line}"));
            }
        }
        let mut sni = Vec::new();
        for s in l.tls_sni.iter().flatten() {
            let s = s.get_ref();
            let server_name = name(ctx, "name", &s.name).map(|n| n.to_ascii_lowercase());
            if let Some(n) = &server_name {
                let body = n.strip_prefix("*.").unwrap_or(n);
                if body.is_empty() || !body.split('.').all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
                    ctx.invalid(&s.name.span(), format!("`name`: expected a server name such as \"www.example.org\" or \"*.example.org\", found \"{n}\""));
                }
            }
            let cert = readable_file(ctx, "cert", &s.cert);
            let key = readable_file(ctx, "key", &s.key);
            sni.push(SniCert { name: server_name.unwrap_or_default(), cert, key });
        }
        let tls = match &l.tls {
            Some(t) => {
                let t = t.get_ref();
                let cert = readable_file(ctx, "cert", &t.cert);
                let key = readable_file(ctx, "key", &t.key);
                Some(Tls { cert, key, sni })
            }
            None => {
                if let Some(first) = l.tls_sni.as_ref().and_then(|v| v.first()) {
                    ctx.error(
                        Some(&first.span()),
                        ErrorKind::Inconsistent,
                        "`tls_sni` needs a default certificate: add `tls = { cert = \"...\", key = \"...\" }` to this listener",
                    );
                }
                None
            }
        };
        if let Some(address) = address {
            out.push(Listener { address, tls, http2: flag(&l.http2, true) });
        }
    }
    if raw.is_empty() && complete {
        ctx.error(
            Some(&(0..0)),
            ErrorKind::MissingKey,
            "no [[listener]]: add at least one, such as `[[listener]]` with `address = \"0.0.0.0:80\"`",
        );
    }
    out
}
