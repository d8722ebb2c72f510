use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use http::Method;

use super::*;

/// A fresh file under the system temp dir with `text` in it.
fn list_file(name: &str, text: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir()
        .join(format!("rampart-access-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn conn(client: &str) -> ConnectionInfo {
    let client: IpAddr = client.parse().unwrap();
    ConnectionInfo {
        peer: SocketAddr::new(client, 50000),
        client,
        local: "127.0.0.1:443".parse().unwrap(),
        tls: None,
    }
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

#[test]
fn deny_and_allow_v4_and_v6() {
    let access = AccessList::new(AccessListSettings {
        deny: nets(&["192.0.2.0/24", "2001:db8::/32"]),
        allow: nets(&["192.0.2.10/32", "2001:db8:1::/48"]),
        ..AccessListSettings::default()
    })
    .unwrap();
    assert_eq!(access.on_connection(&conn("192.0.2.9")).unwrap(), Verdict::forbidden("address on deny list"));
    assert_eq!(access.on_connection(&conn("192.0.2.10")).unwrap(), Verdict::Allow);
    assert_eq!(access.on_connection(&conn("198.51.100.1")).unwrap(), Verdict::Continue);
    assert!(matches!(access.on_connection(&conn("2001:db8:2::1")).unwrap(), Verdict::Block { status: 403, .. }));
    assert_eq!(access.on_connection(&conn("2001:db8:1::5")).unwrap(), Verdict::Allow);
    assert_eq!(access.on_connection(&conn("2001:db9::1")).unwrap(), Verdict::Continue);

    // The request phase judges the client after trusted-proxy resolution, not the peer.
    let mut ctx = RequestContext::for_test(Method::GET, "/", "203.0.113.5".parse().unwrap());
    ctx.client = "192.0.2.77".parse().unwrap();
    assert!(matches!(access.on_request_headers(&mut ctx).unwrap(), Verdict::Block { status: 403, .. }));
}

#[test]
fn every_file_format_loads_and_bad_lines_name_file_and_line() {
    let plain = list_file("deny.txt", "# ours\n192.0.2.0/24\n");
    let drop = list_file("drop.txt", "; Spamhaus DROP\n1.10.16.0/20 ; SBL256894\n");
    let netset = list_file("level1.netset", "#\n# FireHOL\n#\n5.6.7.8\n2001:db8::/32\n");
    let access = AccessList::new(AccessListSettings {
        deny_files: vec![plain, drop, netset],
        ..AccessListSettings::default()
    })
    .unwrap();
    for denied in ["192.0.2.1", "1.10.20.1", "5.6.7.8", "2001:db8::1"] {
        assert!(access.decide(denied.parse().unwrap()).is_disruptive(), "{denied}");
    }
    assert_eq!(access.decide("5.6.7.9".parse().unwrap()), Verdict::Continue);

    for (name, text, line) in [
        ("bad.txt", "192.0.2.0/24\nnot-an-address\n", 2),
        ("bad-drop.txt", "; DROP\n1.10.16.0/20 ; SBL1\n1.10.16.0/99 ; SBL2\n", 3),
        ("bad.netset", "# h\n# h\n# h\n1.2.3.4\n1.2.3.4.5\n", 5),
    ] {
        let path = list_file(name, text);
        let err = AccessList::new(AccessListSettings { deny_files: vec![path.clone()], ..Default::default() })
            .err()
            .unwrap();
        assert_eq!(err.errors.len(), 1);
        let expected = format!("{}:{line}:", path.display());
        assert!(err.to_string().contains(&expected), "{err} lacks {expected}");
    }
}

#[test]
fn reload_swaps_in_new_lists_and_keeps_the_old_on_error() {
    let path = list_file("deny.txt", "192.0.2.0/24\n");
    let access = AccessList::new(AccessListSettings { deny_files: vec![path.clone()], ..Default::default() }).unwrap();
    let denied = |a: &str| access.decide(a.parse().unwrap()).is_disruptive();
    assert!(denied("192.0.2.1"));

    std::fs::write(&path, "198.51.100.0/24\n").unwrap();
    access.reload().unwrap();
    assert!(!denied("192.0.2.1"));
    assert!(denied("198.51.100.1"));

    std::fs::write(&path, "203.0.113.0/24\nbroken line here\n").unwrap();
    let err = access.reload().unwrap_err();
    assert!(err.to_string().contains(":2:"), "{err}");
    assert!(denied("198.51.100.1"), "old list kept");
    assert!(!denied("203.0.113.1"));

    std::fs::remove_file(&path).unwrap();
    assert!(access.reload().is_err());
    assert!(denied("198.51.100.1"), "old list kept when the file vanished");
    let _ = std::fs::remove_dir(Path::new(&path).parent().unwrap());
}

#[test]
fn detect_mode_is_reported_to_the_pipeline() {
    let access = AccessList::new(AccessListSettings {
        deny: nets(&["192.0.2.0/24"]),
        mode: StageMode::Detect,
        ..Default::default()
    })
    .unwrap();
    let pipeline = rampart_core::Pipeline::new(vec![Arc::new(access)], StageMode::Enforce);
    let mut ctx = RequestContext::for_test(Method::GET, "/", "192.0.2.1".parse().unwrap());
    assert_eq!(pipeline.on_request_headers(&mut ctx).verdict, Verdict::Continue);
    assert_eq!(ctx.decisions.len(), 1);
    assert!(!ctx.decisions[0].enforced);
}
