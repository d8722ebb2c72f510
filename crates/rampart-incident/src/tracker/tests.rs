//! Unit tests of [`super`].

use std::time::{Duration, UNIX_EPOCH};

use rampart_core::Verdict;

use super::*;
use crate::model::Status;

const T0: u64 = 1_795_966_800_000; // 2026-11-29T15:40:00Z

fn at(ms: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0 + ms)
}

fn mode(tracker: &Tracker, ms: u64, from: &'static str, to: &'static str) {
    tracker.emit(Event::ModeChange {
        at: at(ms),
        from,
        to,
        reason: "test".into(),
        fingerprints: vec!["GET / ua#1".into()],
    });
}

fn tracker(calm: u64) -> Tracker {
    Tracker::new(Settings { calm_after: Duration::from_secs(calm), ..Settings::default() })
}

fn request(tracker: &Tracker, ms: u64, client: IpAddr, group: Group, decisions: &[Decision], tags: &[Tag]) {
    let served = decisions.iter().all(|d| !d.enforced);
    let s = Sample { client, group, served, latency_us: 2_000, decisions, tags };
    tracker.record(Timestamp(T0 + ms), &s);
}

fn block(stage: &'static str) -> Decision {
    Decision { stage, verdict: Verdict::forbidden("test"), enforced: true }
}

#[test]
fn a_mode_change_opens_and_calm_closes_with_hysteresis() {
    let t = tracker(5);
    let staff: IpAddr = "10.0.0.2".parse().unwrap();
    // A calm minute: staff served in 2 ms.
    for s in 0..30 {
        request(&t, s * 1000, staff, Group::Priority, &[], &[]);
    }
    assert!(t.current().is_none());
    mode(&t, 30_000, "normal", "elevated");
    let open = t.current().expect("opened");
    assert_eq!(open.id, "INC-20261129-0001");
    assert!(open.trigger.contains("normal -> elevated"), "{}", open.trigger);
    // The flood: 100 requests a second for 10 s from 1,000 addresses, half refused.
    for s in 30..40 {
        for i in 0..100u32 {
            let client = IpAddr::from([198, 51, (i % 4) as u8, (i * 7 + s as u32) as u8]);
            let d = if i % 2 == 0 { vec![block("flood")] } else { vec![] };
            request(&t, s * 1000 + u64::from(i), client, Group::Public, &d, &[]);
        }
        request(&t, s * 1000 + 500, staff, Group::Priority, &[], &[]);
    }
    mode(&t, 40_000, "elevated", "under_attack");
    // Mode above normal: never closes, however long.
    assert!(t.tick_at(Timestamp(T0 + 100_000)).is_empty());
    mode(&t, 100_000, "under_attack", "normal");
    // Calm for less than calm_after: still open.
    assert!(t.tick_at(Timestamp(T0 + 104_000)).is_empty());
    let closed = t.tick_at(Timestamp(T0 + 105_500));
    assert_eq!(closed, vec!["INC-20261129-0001".to_string()]);
    let inc = &t.recent()[0];
    assert_eq!(inc.status, Status::Closed);
    assert_eq!(inc.peak_mode, "under_attack");
    assert_eq!(inc.scale.total_requests, 1010);
    assert_eq!(inc.scale.refused_requests, 500);
    assert!(inc.scale.peak_rps >= 100, "{:?}", inc.scale);
    assert!(inc.scale.top_prefixes[0].prefix.starts_with("198.51."), "{:?}", inc.scale.top_prefixes);
    let kinds: Vec<_> = inc.timeline.iter().map(|e| e.kind).collect();
    for k in [EntryKind::FirstSign, EntryKind::Detection, EntryKind::Mitigation, EntryKind::Peak, EntryKind::End] {
        assert!(kinds.contains(&k), "{k:?} missing: {:#?}", inc.timeline);
    }
    assert!(inc.timeline.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(inc.vectors[0].kind, VectorKind::Flood);
    assert_eq!(inc.mitigations[0].stage, "flood");
    assert_eq!(inc.mitigations[0].count, 500);
    assert_eq!(inc.impact.before.priority.requests, 30);
    assert_eq!(inc.impact.during.priority.success_rate, Some(1.0));
    assert!(inc.impact.during.public.success_rate.unwrap() < 0.6);
    // A new attack is a new incident.
    mode(&t, 200_000, "normal", "elevated");
    assert_eq!(t.current().unwrap().id, "INC-20261129-0002");
}

#[test]
fn detections_and_waf_bursts_open_incidents() {
    let t = tracker(1);
    t.emit(Event::Detection {
        at: at(0),
        stage: "login_guard",
        pattern: "credential_stuffing_distributed",
        client: "192.0.2.1".parse().unwrap(),
        identity: "*".into(),
        route: "/login".into(),
        volume: "212 failures from 61 sources in 60s".into(),
        response: "challenge",
    });
    let inc = t.current().expect("opened by the detection");
    assert_eq!(inc.vectors[0].kind, VectorKind::CredentialStuffing);
    assert_eq!(t.tick_at(Timestamp(T0 + 2_000)).len(), 1);

    // Default threshold 5/s over 10 s: 49 blocks do not open, the 50th does.
    let t = tracker(1);
    let tags = [Tag { key: "waf.rule", value: "942100".into() }, Tag { key: "waf.rule", value: "949110".into() }];
    for i in 0..49 {
        request(&t, i * 100, "192.0.2.9".parse().unwrap(), Group::Public, &[block("waf")], &tags);
    }
    assert!(t.current().is_none());
    request(&t, 4_950, "192.0.2.9".parse().unwrap(), Group::Public, &[block("waf")], &tags);
    let inc = t.current().expect("opened by the WAF burst");
    assert!(inc.trigger.starts_with("WAF: 50 requests blocked"), "{}", inc.trigger);
    assert_eq!(inc.vectors.len(), 1, "the anomaly-score rule is no vector: {:?}", inc.vectors);
    assert_eq!(inc.vectors[0].kind, VectorKind::SqlInjection);
    assert_eq!(inc.vectors[0].details, vec!["942100".to_string()]);
}

#[test]
fn a_manual_incident_is_written_and_closed_after_calm() {
    let dir = std::env::temp_dir().join(format!("rampart-incident-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Tracker::new(Settings { dir: Some(dir.clone()), calm_after: Duration::ZERO, ..Settings::default() });
    let id = t.open_manual("<script>phone call from the CSC</script>");
    assert!(crate::store::is_incident_id(&id), "{id}");
    let now = Timestamp::now();
    t.tick_at(now);
    let store = Store::new(&dir);
    let stored = store.load(&id).expect("written");
    assert!(stored.manual);
    assert_eq!(stored.status, Status::Closed, "calm_after 0 closes at the first tick");
    assert_eq!(store.max_seq(&now.day_stamp()), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_long_attack_stays_small() {
    let t = tracker(60);
    mode(&t, 0, "normal", "under_attack");
    // Three hours of one request a second from a new address each time, bans included.
    for s in 0..3 * 3600u64 {
        let client = IpAddr::from([(s >> 16) as u8 + 1, (s >> 8) as u8, s as u8, 1]);
        request(&t, s * 1000, client, Group::Public, &[block("flood")], &[]);
        if s % 10 == 0 {
            t.emit(Event::Ban { at: at(s * 1000), client, until: at(s * 1000 + 60_000), reason: "flood".into() });
        }
    }
    let inc = t.current().unwrap();
    assert!(inc.series.points.len() <= MAX_POINTS, "{}", inc.series.points.len());
    assert!(inc.timeline.len() <= MAX_TIMELINE);
    assert!(inc.scale.top_prefixes.len() <= 10);
    assert_eq!(inc.scale.bans, 1080);
    let bytes = serde_json::to_vec(&inc).unwrap().len();
    assert!(bytes < 64 * 1024, "{bytes} bytes");
}
