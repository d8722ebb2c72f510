//! Directives → a compiled [`Engine`]. [`Builder`] takes files or text, in order, and keeps
//! the state SecLang needs between directives: `SecDefaultAction` per phase, an open `chain`,
//! the rules loaded so far (for `SecRuleRemoveById` and `SecRuleUpdateTargetById`).

mod rule_actions;
mod settings;
mod updates;

use std::collections::HashMap;
use std::path::Path;

pub use rule_actions::parse_phase;

use crate::actions::Disruptive;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::LoadError;
use crate::operator::{Operator, OperatorError};
use crate::parser::{self, actions as raw_actions, operator as raw_operator, variables, Directive};
use crate::rule::{Item, Rule, RuleOperator};
use crate::transform::TransformFn;

/// Builds an operator from its parameter and the rule file's directory.
pub type OperatorFactory = fn(&str, Option<&Path>) -> Result<Box<dyn Operator>, OperatorError>;

/// Operators and transformations known to the builder: the crate's own ([`crate::operator::build`],
/// [`crate::transform::lookup`]) plus any registered by the embedder (checked first).
#[derive(Default)]
pub struct Registry {
    operators: HashMap<String, OperatorFactory>,
    transforms: HashMap<String, TransformFn>,
}

impl Registry {
    /// Find a transformation by name.
    pub fn transform(&self, name: &str) -> Option<TransformFn> {
        self.transforms.get(&name.to_ascii_lowercase()).copied().or_else(|| crate::transform::lookup(name))
    }

    /// Build an operator.
    pub fn operator(&self, name: &str, param: &str, base: Option<&Path>) -> Result<Box<dyn Operator>, OperatorError> {
        match self.operators.get(&name.to_ascii_lowercase()) {
            Some(factory) => factory(param, base),
            None => crate::operator::build(name, param, base),
        }
    }
}

/// Collects directives and compiles them into an [`Engine`].
#[derive(Default)]
pub struct Builder {
    pub(crate) config: Config,
    pub(crate) items: Vec<Item>,
    defaults: [Vec<raw_actions::RawAction>; 5],
    chain_open: bool,
    registry: Registry,
    /// `SecRuleRemoveBy*` / `SecRuleUpdate*By*` directives, applied at build.
    updates: Vec<(String, Directive)>,
    /// Phases that already have a `SecDefaultAction`.
    default_set: [bool; 5],
    /// Rule ids seen, to refuse duplicates as ModSecurity does.
    ids: std::collections::HashSet<u64>,
}

impl Builder {
    /// An empty builder with ModSecurity's default settings.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The settings so far, to change limits that have no directive (JSON/XML depth,
    /// multipart parts) or to override directives from the service's own configuration.
    /// Directives loaded afterwards still apply on top.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// Register an operator (`@name`) that takes precedence over the built-in ones.
    pub fn register_operator(&mut self, name: &str, factory: OperatorFactory) -> &mut Self {
        self.registry.operators.insert(name.to_ascii_lowercase(), factory);
        self
    }

    /// Register a transformation (`t:name`) that takes precedence over the built-in ones.
    pub fn register_transform(&mut self, name: &str, function: TransformFn) -> &mut Self {
        self.registry.transforms.insert(name.to_ascii_lowercase(), function);
        self
    }

    /// Load a file (and what it includes).
    pub fn load_file(&mut self, path: &Path) -> Result<&mut Self, LoadError> {
        for d in parser::parse_file(path)? {
            self.directive(&d)?;
        }
        Ok(self)
    }

    /// Load a file, going on past directives that fail (a chain whose first rule failed is
    /// dropped with it); returns every error. Syntax errors in the file itself stop it.
    pub fn load_file_collect(&mut self, path: &Path) -> Vec<LoadError> {
        let directives = match parser::parse_file(path) {
            Ok(d) => d,
            Err(e) => return vec![e],
        };
        let mut errors = Vec::new();
        let mut dropping_chain = false;
        for d in &directives {
            let is_rule = d.name.eq_ignore_ascii_case("SecRule") || d.name.eq_ignore_ascii_case("SecAction");
            if dropping_chain && is_rule {
                dropping_chain = d.args.last().is_some_and(|a| has_chain(a));
                continue;
            }
            let was_link = self.chain_open;
            if let Err(e) = self.directive(d) {
                errors.push(e);
                if is_rule {
                    if was_link {
                        // Never keep a chain with a link missing: it would match too much.
                        if let Some(pos) = self.items.iter().rposition(|i| matches!(i, Item::Rule(_))) {
                            self.items.remove(pos);
                        }
                    }
                    self.chain_open = false;
                    dropping_chain = d.args.last().is_some_and(|a| has_chain(a));
                }
            }
        }
        errors
    }

    /// Load SecLang text; `Include`s and data files resolve against `base_dir`.
    pub fn load_str(&mut self, text: &str, base_dir: Option<&Path>) -> Result<&mut Self, LoadError> {
        for d in parser::parse_str(text, base_dir)? {
            self.directive(&d)?;
        }
        Ok(self)
    }

    /// Number of rules (chains count once) loaded so far.
    pub fn rule_count(&self) -> usize {
        self.items.iter().filter(|i| matches!(i, Item::Rule(_))).count()
    }

    /// Finish: check nothing is left open and build the engine.
    pub fn build(mut self) -> Result<Engine, LoadError> {
        if self.chain_open {
            // ModSecurity accepts a configuration ending in `chain`; the chain can never
            // complete, so its rule can never match: leave it out.
            if let Some(pos) = self.items.iter().rposition(|i| matches!(i, Item::Rule(_))) {
                self.items.remove(pos);
            }
            self.chain_open = false;
        }
        for (name, d) in std::mem::take(&mut self.updates) {
            updates::apply(&mut self, &name, &d)?;
        }
        Ok(Engine::new(self.config, self.items))
    }

    /// Apply one directive.
    pub fn directive(&mut self, d: &Directive) -> Result<(), LoadError> {
        match d.name.to_ascii_lowercase().as_str() {
            "secrule" => {
                let (vars, op, actions) = match d.args.as_slice() {
                    [v, o] => (v, o, None),
                    [v, o, a] => (v, o, Some(a)),
                    _ => return Err(arity(d, "variables, an operator and optional actions")),
                };
                self.add_rule(d, Some((vars, op)), actions.map(String::as_str))
            }
            "secaction" => match d.args.as_slice() {
                [a] => self.add_rule(d, None, Some(a)),
                _ => Err(arity(d, "one actions list")),
            },
            "secmarker" => match d.args.as_slice() {
                [m] => {
                    self.items.push(Item::Marker(m.clone()));
                    Ok(())
                }
                _ => Err(arity(d, "a marker name")),
            },
            "secdefaultaction" => match d.args.as_slice() {
                [a] => {
                    let actions = raw_actions::parse(a, &d.arg_location(0))?;
                    let phase = rule_actions::phase_of(&actions, &d.arg_location(0))?.unwrap_or(2);
                    rule_actions::check_default_actions(&actions, &d.arg_location(0))?;
                    let index = usize::from(phase - 1);
                    if self.default_set[index] {
                        return Err(LoadError::InvalidArgument {
                            location: d.location.clone(),
                            directive: d.name.clone(),
                            why: format!("a SecDefaultAction for phase {phase} was already given"),
                        });
                    }
                    self.default_set[index] = true;
                    self.defaults[index] = actions;
                    Ok(())
                }
                _ => Err(arity(d, "one actions list")),
            },
            name if updates::handles(name) => updates::defer(self, name, d),
            name => settings::apply(&mut self.config, name, d),
        }
    }

    fn add_rule(&mut self, d: &Directive, rule: Option<(&String, &String)>, actions: Option<&str>) -> Result<(), LoadError> {
        // Errors point at the argument they are about: variables, operator or actions.
        let actions_location = d.arg_location(if rule.is_some() { 2 } else { 0 });
        let location = &actions_location;
        let raw = match actions {
            Some(a) => raw_actions::parse(a, location)?,
            None => Vec::new(),
        };
        let is_link = self.chain_open;
        let phase = if is_link {
            self.last_phase().unwrap_or(2)
        } else {
            rule_actions::phase_of(&raw, location)?.unwrap_or(2)
        };
        let mut new = Rule::new(d.location.clone(), phase);
        let defaults = self.defaults[usize::from(phase - 1)].clone();
        let mut default_disruptive = Disruptive::Pass;
        let mut default_status = None;
        if !defaults.is_empty() {
            let mut probe = Rule::new(location.clone(), phase);
            rule_actions::apply(&mut probe, &defaults, location, &self.registry)?;
            default_disruptive = probe.disruptive.clone();
            new.transforms = probe.transforms;
            if !is_link {
                new.log = probe.log;
                new.audit_log = probe.audit_log;
            }
            default_status = probe.status;
        }
        rule_actions::apply(&mut new, &raw, location, &self.registry)?;
        let applied_chain = raw.iter().any(|a| a.name == "chain");
        // As ModSecurity v3: the default's disruptive action (and status) reach a rule only
        // through `block`; a rule without a disruptive action passes.
        if new.is_block {
            new.disruptive = default_disruptive;
            if new.status.is_none() {
                new.status = default_status;
            }
        }
        if let Some((vars, op)) = rule {
            let vars_location = d.arg_location(0);
            let raw_vars = variables::parse(vars, &vars_location)?;
            new.targets.extend(&raw_vars, &vars_location)?;
            let raw_op = raw_operator::parse(op);
            let operator = self
                .registry
                .operator(&raw_op.name, &raw_op.param, d.base_dir.as_deref())
                .map_err(|source| LoadError::Operator { location: d.arg_location(1), source })?;
            new.operator = Some(RuleOperator { negated: raw_op.negated, name: raw_op.name, param: raw_op.param, operator });
        }
        if is_link {
            match self.items.iter_mut().rev().find_map(|i| match i {
                Item::Rule(r) => Some(r),
                Item::Marker(_) => None,
            }) {
                Some(parent) => {
                    // `status:` may be given on any link; it belongs to the chain's start.
                    if parent.status.is_none() {
                        parent.status = new.status;
                    }
                    parent.last_link_mut().chain = Some(Box::new(new));
                }
                None => return Err(arity(d, "a rule to chain to")),
            }
        } else {
            if new.id == 0 && rule.is_some() {
                return Err(LoadError::Action {
                    location: location.clone(),
                    action: "id".into(),
                    why: "every rule needs an `id`".into(),
                });
            }
            if new.id != 0 && !self.ids.insert(new.id) {
                return Err(LoadError::Action {
                    location: location.clone(),
                    action: "id".into(),
                    why: format!("rule id {} is duplicated", new.id),
                });
            }
            self.items.push(Item::Rule(Box::new(new)));
        }
        self.chain_open = applied_chain;
        Ok(())
    }

    fn last_phase(&self) -> Option<u8> {
        self.items.iter().rev().find_map(|i| match i {
            Item::Rule(r) => Some(r.phase),
            Item::Marker(_) => None,
        })
    }
}

fn has_chain(actions: &str) -> bool {
    actions.split(',').any(|a| a.trim().eq_ignore_ascii_case("chain"))
}

fn arity(d: &Directive, expected: &str) -> LoadError {
    LoadError::Syntax { location: d.location.clone(), expected: format!("{expected} after `{}`", d.name), found: format!("{} argument(s)", d.args.len()) }
}
