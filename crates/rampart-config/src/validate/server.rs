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
    Server { trusted_proxies, client_address, pin_workers: flag(&raw.pin_workers, true) }
}

/// `[[listener]]`: addresses parse and are unique; TLS files exist; SNI needs a default cert.
pub(crate) fn listeners(ctx: &mut Ctx<'_>, raw: &[RawListener], complete: bool) -> Vec<Listener> {
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for l in raw {
        let addr_raw = &l.address;
        let address = socket_addr(ctx, "address", addr_raw);
        // Port 0 asks the system for a free port: two such listeners never collide.
        if let Some(a) = address.filter(|a| a.port() != 0) {
            if let Some(first) = seen.insert(a, addr_raw.span()) {
                let (line, _) = ctx.position(first.start);
                ctx.error(Some(&addr_raw.span()), ErrorKind::Duplicate, format!("listener address {a} is already used by the listener on line {line}"));
            }
        }
        let mut sni = Vec::new();
        for s in l.tls_sni.iter().flatten() {
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
                let cert = readable_file(ctx, "cert", &t.cert);
                let key = readable_file(ctx, "key", &t.key);
                Some(Tls { cert, key, sni })
            }
            None => {
                if let Some(first) = l.tls_sni.as_ref().and_then(|v| v.first()) {
                    ctx.error(
                        Some(&first.name.span()),
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

#[cfg(test)]
mod tests {
    use crate::model::ClientAddress;
    use crate::testing::{errs, ok, raw_errs};

    #[test]
    fn server_defaults_and_values() {
        let c = ok("");
        assert_eq!(c.server.client_address, ClientAddress::Peer);
        assert!(c.server.pin_workers);
        let c = ok("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\nclient_address = \"proxy-protocol\"\n");
        assert_eq!(c.server.trusted_proxies[1].to_string(), "192.0.2.1/32");
        assert_eq!(c.server.client_address, ClientAddress::ProxyProtocol);
        assert!(c.server.pin_workers, "a [server] table without the key keeps the default");
        assert!(!ok("[server]\npin_workers = false\n").server.pin_workers);
    }

    #[test]
    fn server_mistakes() {
        let e = errs("[server]\ntrusted_proxies = [\"10.0.0.1/8\", \"nope\"]\nclient_address = \"forwarded\"\n");
        assert!(e[0].contains("host bits set; did you mean \"10.0.0.0/8\""), "{e:?}");
        assert!(e[1].contains("expected a network"), "{e:?}");
        let e = errs("[server]\nclient_address = \"x-forwarded-for\"\n");
        assert!(e[0].contains("needs `trusted_proxies`"), "{e:?}");
        let e = raw_errs("[server]\npin_workers = \"yes\"\n");
        assert!(e.iter().any(|m| m.contains("pin_workers") || m.contains("bool")), "{e:?}");
    }

    #[test]
    fn listeners() {
        let c = ok("[[listener]]\naddress = \"[::]:80\"\nhttp2 = false\n");
        assert_eq!(c.listeners.len(), 2);
        assert!(!c.listeners[1].http2);
        let e = raw_errs("[[upstream]]\nname = \"app\"\nservers = [\"127.0.0.1:1\"]\n");
        assert!(e[0].starts_with("1:1: no [[listener]]"), "{e:?}");
        let e = errs("[[listener]]\nhttp2 = true\n");
        assert_eq!(e, vec!["8:1: missing key `address` in [[listener]]".to_string()]);
        let e = errs("[[listener]]\naddress = \"localhost:80\"\n");
        assert!(e[0].contains("expected an IP address and port such as \"0.0.0.0:443\""), "{e:?}");
    }

    #[test]
    fn tls_files_and_sni() {
        let e = errs("[[listener]]\naddress = \"0.0.0.0:443\"\ntls = { cert = \"site.pem\", key = \"site.key\" }\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("`cert`: cannot read \"/nonexistent/site.pem\": no such file"), "{e:?}");
        let e = errs("[[listener]]\naddress = \"0.0.0.0:443\"\n[[listener.tls_sni]]\nname = \"a.example\"\ncert = \"/dev/null\"\nkey = \"/dev/null\"\n");
        assert!(e[0].contains("`tls_sni` needs a default certificate"), "{e:?}");
    }
}
