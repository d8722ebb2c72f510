//! The rate-limit stage's decision on the request path: an allowed key, an over-limit key.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use http::Method;
use rampart_core::{Rate, RequestContext, Stage};
use rampart_shield::{RateKey, RateLimit, RateLimitSettings};
use rampart_state::{BanList, SystemClock};

fn limit(count: u64, per: Duration) -> RateLimit {
    let mut s = RateLimitSettings::new("bench", RateKey::Client, Rate { count, per });
    s.memory_bytes = 16 << 20;
    RateLimit::new(s, Arc::new(BanList::new(1024)), Arc::new(SystemClock)).expect("budget fits")
}

fn decisions(c: &mut Criterion) {
    let open = limit(1_000_000_000, Duration::from_secs(1));
    let strict = limit(1, Duration::from_secs(3600));
    let mut ctx = RequestContext::for_test(Method::GET, "/", "192.0.2.1".parse().expect("address"));
    c.bench_function("rate_limit_stage_allowed", |b| b.iter(|| black_box(open.on_request_headers(&mut ctx))));
    c.bench_function("rate_limit_stage_over_limit", |b| {
        b.iter(|| {
            ctx.tags.clear(); // the over-limit path tags the request; keep the Vec from growing
            black_box(strict.on_request_headers(&mut ctx))
        })
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
