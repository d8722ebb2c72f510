//! Per-transaction configuration that rules can change with `ctl`.

use super::outcome::{Intervention, MatchedRule};
use crate::actions::ctl::{in_ranges, IdRange};
use crate::actions::AllowScope;
use crate::config::{Config, EngineMode};
use crate::rule::Rule;
use crate::vars::Exclusion;

/// Which rules a runtime target removal applies to.
#[derive(Debug, Clone)]
pub enum RuleSelector {
    /// By id ranges.
    Ids(Vec<IdRange>),
    /// By exact tag.
    Tag(String),
    /// By exact msg.
    Msg(String),
}

impl RuleSelector {
    fn matches(&self, rule: &Rule) -> bool {
        match self {
            RuleSelector::Ids(r) => in_ranges(r, rule.id),
            RuleSelector::Tag(t) => rule.metadata.tags.iter().any(|x| same_tag(x, t)),
            RuleSelector::Msg(m) => rule.metadata.msg_raw.as_deref() == Some(m.as_str()),
        }
    }
}

/// `a == b`, with a cheap look at the first byte before the full comparison: checked against
/// every tag of every rule once a `ctl:ruleRemoveTargetByTag` ran (CRS 941010 does), and tags of
/// the same length are common.
pub(crate) fn same_tag(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// Settings and outcomes of one transaction.
#[derive(Debug)]
pub struct TxState {
    pub(crate) mode: EngineMode,
    pub(crate) request_body_access: bool,
    pub(crate) response_body_access: bool,
    pub(crate) force_request_body_variable: bool,
    pub(crate) request_body_limit: usize,
    pub(crate) removed_ids: Vec<IdRange>,
    pub(crate) removed_tags: Vec<String>,
    pub(crate) removed_msgs: Vec<String>,
    pub(crate) removed_targets: Vec<(RuleSelector, Exclusion)>,
    pub(crate) interruption: Option<Intervention>,
    pub(crate) matched_rules: Vec<MatchedRule>,
    pub(crate) allow: Option<(AllowScope, u8)>,
    pub(crate) request_body: Vec<u8>,
    pub(crate) request_body_seen: usize,
    pub(crate) response_body_seen: usize,
    pub(crate) request_body_truncated: bool,
    pub(crate) response_body_truncated: bool,
    pub(crate) phases_run: [bool; 5],
}

impl TxState {
    pub(crate) fn new(config: &Config) -> TxState {
        TxState {
            mode: config.rule_engine,
            request_body_access: config.request_body_access,
            response_body_access: config.response_body_access,
            force_request_body_variable: false,
            request_body_limit: config.request_body_limit,
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_msgs: Vec::new(),
            removed_targets: Vec::new(),
            interruption: None,
            matched_rules: Vec::new(),
            allow: None,
            request_body: Vec::new(),
            request_body_seen: 0,
            response_body_seen: 0,
            request_body_truncated: false,
            response_body_truncated: false,
            phases_run: [false; 5],
        }
    }

    /// Exclusions added at run time that apply to `rule`.
    pub(crate) fn removed_targets_for(&self, rule: &Rule) -> Vec<&Exclusion> {
        if self.removed_targets.is_empty() {
            return Vec::new();
        }
        self.removed_targets.iter().filter(|(sel, _)| sel.matches(rule)).map(|(_, e)| e).collect()
    }
}
