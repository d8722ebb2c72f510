//! The compiled rule model: what [`crate::compile`] makes of `SecRule` / `SecAction` /
//! `SecMarker`, and what the transaction runs.

pub mod metadata;

use std::fmt;
use std::sync::Arc;

pub use metadata::{Metadata, Severity};

use crate::actions::{Action, Disruptive};
use crate::error::Location;
use crate::operator::Operator;
use crate::transform::TransformFn;
use crate::vars::target::TargetList;

/// A built operator with its negation.
pub struct RuleOperator {
    /// `!@op`.
    pub negated: bool,
    /// Name as written (`rx`).
    pub name: String,
    /// Parameter as written.
    pub param: String,
    /// The operator, built once at load.
    pub operator: Box<dyn Operator>,
}

impl fmt::Debug for RuleOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} {}", if self.negated { "!" } else { "" }, self.name, self.param)
    }
}

/// A named transformation resolved at load.
#[derive(Clone)]
pub struct Transformation {
    /// SecLang name (`lowercase`).
    pub name: String,
    /// The function.
    pub function: TransformFn,
    /// The bytes without which it leaves a value unchanged, when known
    /// ([`crate::transform::unchanged_without`]).
    pub unchanged_without: Option<crate::transform::ByteSet>,
    /// What it does to the bytes a value holds ([`crate::transform::ByteEffect`]).
    pub bytes: crate::transform::ByteEffect,
}

impl fmt::Debug for Transformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t:{}", self.name)
    }
}

/// One rule (or one link of a chain).
#[derive(Debug)]
pub struct Rule {
    /// `id:` (0 for chain links, which have none).
    pub id: u64,
    /// Phase 1..=5.
    pub phase: u8,
    /// Where the rule was written.
    pub location: Location,
    /// Variables to inspect and exclusions. Empty for `SecAction`.
    pub targets: TargetList,
    /// `None` for `SecAction`, which always matches.
    pub operator: Option<RuleOperator>,
    /// Transformations applied in order to each value.
    pub transforms: Vec<Transformation>,
    /// Identifies the transformation chain for the transaction's cache (0: no chain), set
    /// when the engine is built.
    pub chain_id: u32,
    /// The operator's group in the engine's [`crate::prefilter::LiteralIndex`] (`None`: the
    /// operator has no required literals), set when the engine is built.
    pub prefilter: Option<u32>,
    /// Bytes one of which every value the operator matches holds ([`Operator::required_bytes`]),
    /// set when the engine is built.
    pub required_bytes: Option<crate::transform::ByteSet>,
    /// Its variables' summaries, when the prefilter may be asked of whole variables so that
    /// the link can be skipped without fetching its values (see `tx::literal_skip`); empty
    /// otherwise. Set when the engine is built.
    pub summaries: Box<[crate::tx::literal_skip::SummaryRef]>,
    /// `multiMatch`: run the operator after each transformation too.
    pub multi_match: bool,
    /// `capture`: store regex groups as `TX.0`..`TX.9`.
    pub capture: bool,
    /// `log` / `nolog` (after `SecDefaultAction`).
    pub log: bool,
    /// `auditlog` / `noauditlog`.
    pub audit_log: bool,
    /// msg, logdata, severity, tags, …
    pub metadata: Metadata,
    /// The effective disruptive action (`block` already resolved through `SecDefaultAction`).
    pub disruptive: Disruptive,
    /// Whether the rule was written with `block`.
    pub is_block: bool,
    /// `status:`.
    pub status: Option<u16>,
    /// `skip:N`.
    pub skip: u32,
    /// `skipAfter:MARKER`.
    pub skip_after: Option<String>,
    /// Non-disruptive actions run when the rule (whole chain) matches.
    pub actions: Vec<Action>,
    /// The next link, for `chain`.
    pub chain: Option<Box<Rule>>,
    /// The slot of the `TX` variable when the link's only target is `TX:key` or `&TX:key`
    /// (see `tx::tx_names`), set when the engine is built.
    pub tx_slot: Option<u32>,
    /// msg / rev / ver as plain text for `RULE.*`, filled when the engine is built.
    pub text: Arc<RuleText>,
    /// Where `text` is in the engine's list of texts (what a transaction's `RULE` refers to).
    pub text_index: u32,
}

/// A rule's descriptive text as `RULE.msg`, `RULE.rev`, `RULE.ver` and [`crate::MatchedRule`]
/// report it, shared (matches point at it rather than copy it).
#[derive(Debug, Clone, Default)]
pub struct RuleText {
    /// `msg` as written (macros not expanded).
    pub msg: String,
    /// `rev`.
    pub rev: Option<Arc<str>>,
    /// `ver`.
    pub ver: Option<Arc<str>>,
    /// `tag`s, in order.
    pub tags: Arc<[String]>,
    /// The rule file.
    pub file: Arc<str>,
}

impl Rule {
    /// A fresh rule with ModSecurity's defaults.
    pub fn new(location: Location, phase: u8) -> Rule {
        Rule {
            id: 0,
            phase,
            location,
            targets: TargetList::default(),
            operator: None,
            transforms: Vec::new(),
            chain_id: 0,
            prefilter: None,
            required_bytes: None,
            summaries: Box::default(),
            multi_match: false,
            capture: false,
            log: true,
            audit_log: true,
            metadata: Metadata::default(),
            disruptive: Disruptive::Pass,
            is_block: false,
            status: None,
            skip: 0,
            skip_after: None,
            actions: Vec::new(),
            chain: None,
            tx_slot: None,
            text: Arc::default(),
            text_index: 0,
        }
    }

    /// The deepest link of the chain starting here.
    pub fn last_link_mut(&mut self) -> &mut Rule {
        match self.chain {
            Some(ref mut next) => next.last_link_mut(),
            None => self,
        }
    }

    /// Every link, starting with this one.
    pub fn links(&self) -> impl Iterator<Item = &Rule> {
        std::iter::successors(Some(self), |r| r.chain.as_deref())
    }
}

/// An entry of a phase's rule list.
#[derive(Debug)]
pub enum Item {
    /// A rule (with its chain).
    Rule(Box<Rule>),
    /// `SecMarker`: a target for `skipAfter`.
    Marker(String),
}
