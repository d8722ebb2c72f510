//! Hot-path costs of the state structures: a sketch update and a rate-limit decision.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_core::Rate;
use rampart_state::{CountMinSketch, KeyHash, KeyLabel, LimiterSettings, RateLimiter};

fn sketch_update(c: &mut Criterion) {
    let sketch = CountMinSketch::with_budget(16 << 20).expect("budget fits");
    let mut i = 0u64;
    c.bench_function("sketch_update_16MiB", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(sketch.increment(KeyHash::of_u64(i), 1))
        })
    });
}

fn limiter_decision(c: &mut Criterion) {
    let start = Instant::now();
    let settings = LimiterSettings::new(Rate { count: 1_000_000_000, per: Duration::from_secs(1) }, 10, 16 << 20);
    let open = RateLimiter::new(&settings, start).expect("budget fits");
    let strict = RateLimiter::new(&LimiterSettings::new(Rate { count: 1, per: Duration::from_secs(3600) }, 0, 16 << 20), start)
        .expect("budget fits");
    let key = KeyHash::of_bytes(b"192.0.2.1");
    c.bench_function("limiter_allowed_key", |b| {
        b.iter(|| black_box(open.check(key, Instant::now(), || KeyLabel::new("192.0.2.1"))))
    });
    c.bench_function("limiter_over_limit_key", |b| {
        b.iter(|| black_box(strict.check(key, Instant::now(), || KeyLabel::new("192.0.2.1"))))
    });
}

criterion_group!(benches, sketch_update, limiter_decision);
criterion_main!(benches);
