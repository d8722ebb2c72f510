//! Overrides files (the format of `coraza-overrides.yaml`): known divergences of an engine from
//! the shared expectations, each with a reason. An entry with `output` replaces the test's
//! expected output; an entry without one marks the test as skipped.

use serde::Deserialize;

use super::model::Output;

/// An overrides file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Overrides {
    /// The entries.
    #[serde(default)]
    pub test_overrides: Vec<Override>,
}

/// One override.
#[derive(Debug, Clone, Deserialize)]
pub struct Override {
    /// The rule whose tests it concerns.
    pub rule_id: u64,
    /// Which tests (all of the rule's when empty).
    #[serde(default)]
    pub test_ids: Vec<u32>,
    /// Why (required).
    pub reason: String,
    /// The output to expect instead.
    #[serde(default)]
    pub output: Option<Output>,
}

impl Overrides {
    /// Read an overrides file; every entry must give a non-empty reason.
    pub fn read(path: &std::path::Path) -> Result<Overrides, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let o: Overrides = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(bad) = o.test_overrides.iter().find(|e| e.reason.trim().is_empty()) {
            return Err(format!("override for rule {} has no reason", bad.rule_id));
        }
        Ok(o)
    }

    /// The override for a test, if any.
    pub fn find(&self, rule_id: u64, test_id: u32) -> Option<&Override> {
        self.test_overrides.iter().find(|o| o.rule_id == rule_id && (o.test_ids.is_empty() || o.test_ids.contains(&test_id)))
    }
}
