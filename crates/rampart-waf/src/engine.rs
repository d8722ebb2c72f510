//! [`Engine`]: a compiled rule set and its settings, immutable, `Send + Sync`, shared by `Arc`
//! between all transactions.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::compile::Builder;
use crate::config::Config;
use crate::error::LoadError;
use crate::prefilter::LiteralIndex;
use crate::rule::{Item, Rule};
use crate::store::{MemoryStore, PersistentStore};
use crate::tx::Transaction;

/// A compiled configuration.
pub struct Engine {
    pub(crate) config: Config,
    /// Rule lists by phase (index 0 = phase 1); markers appear in every phase.
    pub(crate) phases: [Vec<Item>; 5],
    pub(crate) store: Arc<dyn PersistentStore>,
    /// The required literals of every rule that has some (groups numbered in [`Rule::prefilter`]).
    pub(crate) literals: LiteralIndex,
    /// How many whole-variable summaries rules ask of a transaction (see `tx::literal_skip`).
    pub(crate) summary_count: usize,
    /// Every rule's text, by [`Rule::text_index`] (a transaction holds the list, not each text).
    pub(crate) texts: Arc<[Arc<crate::rule::RuleText>]>,
    /// Buffers finished transactions leave for the next ones.
    pub(crate) spares: crate::tx::spare::Spares,
    rule_count: usize,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("config", &self.config).field("rules", &self.rule_count).finish()
    }
}

impl Engine {
    pub(crate) fn new(config: Config, items: Vec<Item>) -> Engine {
        let mut phases: [Vec<Item>; 5] = Default::default();
        let mut rule_count = 0;
        let mut chains: HashMap<Vec<usize>, u32> = HashMap::new();
        let mut texts = Vec::new();
        for item in items {
            match item {
                Item::Rule(mut rule) => {
                    rule_count += 1;
                    number_chains(&mut rule, &mut chains);
                    let m = &rule.metadata;
                    rule.text = Arc::new(crate::rule::RuleText {
                        msg: m.msg_raw.clone().unwrap_or_default(),
                        rev: m.rev.as_deref().map(Arc::from),
                        ver: m.ver.as_deref().map(Arc::from),
                        tags: m.tags.clone().into(),
                        file: rule.location.file.to_string_lossy().into(),
                    });
                    rule.text_index = u32::try_from(texts.len()).unwrap_or(u32::MAX);
                    texts.push(rule.text.clone());
                    let index = usize::from(rule.phase.clamp(1, 5) - 1);
                    phases[index].push(Item::Rule(rule));
                }
                Item::Marker(name) => {
                    for phase in phases.iter_mut() {
                        phase.push(Item::Marker(name.clone()));
                    }
                }
            }
        }
        let (literals, summary_count) = index_literals(&mut phases);
        let tx_names = Arc::new(crate::tx::tx_names::number_tx_names(&mut phases));
        Engine {
            config,
            phases,
            store: Arc::new(MemoryStore::default()),
            literals,
            summary_count,
            texts: texts.into(),
            spares: crate::tx::spare::Spares::new(tx_names),
            rule_count,
        }
    }

    /// Compile SecLang text (a convenience over [`Builder`]).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, base_dir: Option<&Path>) -> Result<Engine, LoadError> {
        let mut b = Builder::new();
        b.load_str(text, base_dir)?;
        b.build()
    }

    /// Compile a file and what it includes.
    pub fn from_file(path: &Path) -> Result<Engine, LoadError> {
        let mut b = Builder::new();
        b.load_file(path)?;
        b.build()
    }

    /// Use `store` for `IP`, `GLOBAL`, `SESSION`, `USER` and `RESOURCE` collections
    /// (default: an in-memory store private to this engine).
    pub fn with_store(mut self, store: Arc<dyn PersistentStore>) -> Engine {
        self.store = store;
        self
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of rules (a chain counts once).
    pub fn rule_count(&self) -> usize {
        self.rule_count
    }

    /// Every rule, phase by phase.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.phases.iter().flatten().filter_map(|i| match i {
            Item::Rule(r) => Some(r.as_ref()),
            Item::Marker(_) => None,
        })
    }

    /// Start a transaction.
    pub fn transaction(self: &Arc<Self>) -> Transaction {
        Transaction::new(self.clone())
    }
}

/// Shortest literal worth a place in the [`LiteralIndex`]. A set with a shorter member (`/`,
/// `'`, single letters from `[a-f]`-like alternations) is present in most values: it would
/// filter nothing, and its every occurrence would cost the shared scan a report. Such
/// operators keep their own check.
const MIN_INDEXED_LITERAL: usize = 2;
/// Largest set indexed: the long phrase lists of `@pmFromFile` (thousands of shell commands)
/// would swell the shared automaton for all; they keep their own.
const MAX_INDEXED_SET: usize = 256;

/// Number every link whose operator has selective required literals and index their sets;
/// note the operators' required bytes, and number the whole-variable summaries of the links
/// that may be skipped whole (their count is returned with the index).
fn index_literals(phases: &mut [Vec<Item>; 5]) -> (LiteralIndex, usize) {
    let mut sets: Vec<Vec<Vec<u8>>> = Vec::new();
    for item in phases.iter_mut().flatten() {
        let Item::Rule(rule) = item else { continue };
        let mut link = Some(rule.as_mut());
        while let Some(r) = link {
            r.required_bytes = r.operator.as_ref().and_then(|op| op.operator.required_bytes());
            let set = r.operator.as_ref().and_then(|op| op.operator.required_literals());
            let selective = |set: &Vec<Vec<u8>>| set.len() <= MAX_INDEXED_SET && set.iter().all(|l| l.len() >= MIN_INDEXED_LITERAL);
            if let Some(set) = set.filter(selective) {
                r.prefilter = u32::try_from(sets.len()).ok();
                sets.push(set);
            }
            link = r.chain.as_deref_mut();
        }
    }
    let index = LiteralIndex::new(&sets);
    let mut summaries = crate::tx::literal_skip::SummaryNumbers::default();
    for item in phases.iter_mut().flatten() {
        let Item::Rule(rule) = item else { continue };
        let mut link = Some(rule.as_mut());
        while let Some(r) = link {
            if index.is_empty() {
                r.prefilter = None;
            }
            summaries.assign(r);
            link = r.chain.as_deref_mut();
        }
    }
    (index, summaries.count())
}

/// Give every link the id of its transformation chain (equal chains, equal ids).
fn number_chains(rule: &mut Rule, chains: &mut HashMap<Vec<usize>, u32>) {
    let mut link = Some(rule);
    while let Some(r) = link {
        if !r.transforms.is_empty() {
            let key: Vec<usize> = r.transforms.iter().map(|t| t.function as usize).collect();
            let next = u32::try_from(chains.len() + 1).unwrap_or(u32::MAX);
            r.chain_id = *chains.entry(key).or_insert(next);
        }
        link = r.chain.as_deref_mut();
    }
}

#[cfg(test)]
mod tests {
    use super::Engine;

    fn shared<T: Send + Sync>() {}
    fn movable<T: Send>() {}

    #[test]
    fn engine_is_shareable_and_transactions_movable() {
        shared::<Engine>();
        movable::<crate::Transaction>();
    }
}
