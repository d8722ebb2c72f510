//! The flood defence's parts, built from `[flood]` and `[[priority]]`: the priority stage,
//! the challenge gate with its clearance stage, and the flood detector.
//!
//! The mode, the challenge secret, the gate (spent challenges, revoked clearances) and the
//! detector (its learned baseline) live as long as the process: a reload in the middle of an
//! attack must neither stand the defence down nor forget what it learned, nor invalidate every
//! clearance. A reload that changes their settings builds new ones (the mode carries over).

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use rampart_config::{ChallengeDifficulty, Config};
use rampart_core::EventSink;
use rampart_shield::{
    ChallengeGate, ChallengeSettings, ClearanceStage, Difficulty, Flood, FloodSettings, Keys, Marker, Mitigation,
    PriorityRule, PriorityStage, Sensitivity,
};
use rampart_state::{BanList, Clock};

/// The process's mitigation mode.
pub fn mitigation() -> Arc<Mitigation> {
    static MODE: OnceLock<Arc<Mitigation>> = OnceLock::new();
    Arc::clone(MODE.get_or_init(|| Arc::new(Mitigation::new())))
}

/// The `[[priority]]` stage, or `None` when no class is configured.
pub fn priority(config: &Config) -> Result<Option<PriorityStage>, Vec<String>> {
    if config.priorities.is_empty() {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    for p in &config.priorities {
        let jwt_key = match &p.verify {
            Some(v) => match std::fs::read(&v.jwt_hs256_key_file) {
                Ok(k) => Some(k.trim_ascii().to_vec()),
                Err(e) => {
                    errors.push(format!("[[priority]] `{}`: jwt_hs256_key_file {}: {e}", p.class, v.jwt_hs256_key_file.display()));
                    None
                }
            },
            None => None,
        };
        let marker = match (&p.cookie, &p.header) {
            (Some(c), _) => Some(Marker::Cookie(c.clone())),
            (None, Some(h)) => Some(Marker::Header(h.to_ascii_lowercase())),
            (None, None) => None,
        };
        rules.push(PriorityRule { class: Arc::from(p.class.as_str()), networks: p.networks.clone(), marker, jwt_key });
    }
    if errors.is_empty() {
        Ok(Some(PriorityStage::new(rules)))
    } else {
        Err(errors)
    }
}

fn challenge_settings(config: &Config) -> ChallengeSettings {
    let f = &config.flood;
    ChallengeSettings {
        difficulty: match f.challenge_difficulty {
            ChallengeDifficulty::Auto => Difficulty::Auto,
            ChallengeDifficulty::Bits(b) => Difficulty::Fixed(u32::from(b)),
        },
        clearance_ttl: f.clearance_ttl,
        fallback_wait: f.challenge_wait,
        exempt_paths: f.exempt_paths.clone(),
        ..ChallengeSettings::default()
    }
}

/// The challenge gate for `config`: the same one as before a reload unless its settings
/// changed.
pub fn gate(config: &Config) -> Result<Arc<ChallengeGate>, String> {
    static GATE: Mutex<Option<(String, Arc<ChallengeGate>)>> = Mutex::new(None);
    let settings = challenge_settings(config);
    let secret = config.flood.challenge_secret_file.clone();
    let key = format!("{settings:?} {secret:?}");
    let mut slot = GATE.lock();
    if let Some((k, g)) = slot.as_ref() {
        if *k == key {
            return Ok(Arc::clone(g));
        }
    }
    let keys = match &secret {
        Some(path) => Keys::from_file(path).map_err(|e| format!("[flood] challenge_secret_file: {e}"))?,
        None => process_keys(),
    };
    let g = Arc::new(ChallengeGate::new(keys, settings, mitigation()));
    *slot = Some((key, Arc::clone(&g)));
    Ok(g)
}

/// The random challenge secret of this process (no `challenge_secret_file`).
fn process_keys() -> Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(Keys::random).clone()
}

/// The clearance stage over `gate`.
pub fn clearance(gate: &Arc<ChallengeGate>) -> ClearanceStage {
    ClearanceStage::new(Arc::clone(gate))
}

fn flood_settings(config: &Config) -> FloodSettings {
    let f = &config.flood;
    FloodSettings {
        sensitivity: match f.sensitivity {
            rampart_config::Sensitivity::Low => Sensitivity::Low,
            rampart_config::Sensitivity::Medium => Sensitivity::Medium,
            rampart_config::Sensitivity::High => Sensitivity::High,
        },
        min_rate: f.min_rate.per_second(),
        heavy_rate: f.heavy_hitter_rate.per_second(),
        ban_for: f.ban_duration,
        mode: f.mode,
        ..FloodSettings::default()
    }
}

/// How often the detector's tick is closed when no request does it.
const TICKER: Duration = Duration::from_millis(250);

/// The flood detector for `config` (`None` when `[flood] enabled = false`): the same one as
/// before a reload unless its settings changed. A thread closes its ticks while it lives.
pub fn flood(
    config: &Config,
    gate: &Arc<ChallengeGate>,
    bans: &Arc<BanList>,
    clock: &Arc<dyn Clock>,
    events: &Arc<dyn EventSink>,
) -> Option<Arc<Flood>> {
    static FLOOD: Mutex<Option<(String, Arc<Flood>)>> = Mutex::new(None);
    if !config.flood.enabled {
        return None;
    }
    let settings = flood_settings(config);
    let key = format!("{settings:?} {:p}", Arc::as_ptr(gate));
    let mut slot = FLOOD.lock();
    if let Some((k, f)) = slot.as_ref() {
        if *k == key {
            return Some(Arc::clone(f));
        }
    }
    let flood = Arc::new(Flood::new(
        settings,
        mitigation(),
        Some(Arc::clone(gate)),
        Arc::clone(bans),
        Arc::clone(clock),
        Arc::clone(events),
    ));
    let weak: Weak<Flood> = Arc::downgrade(&flood);
    let spawned = std::thread::Builder::new().name("rampart-flood-tick".into()).spawn(move || {
        while let Some(f) = weak.upgrade() {
            f.tick();
            drop(f);
            std::thread::sleep(TICKER);
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(target: "rampart::flood", error = %e, "cannot start the detector's timer; ticks close on requests only");
    }
    *slot = Some((key, Arc::clone(&flood)));
    Some(flood)
}
