//! The stages, in the order a request meets them, built from the configuration.

use std::sync::Arc;

use rampart_config::Config;
use rampart_core::Stage;

/// Build the configured stages. Errors are full lines (`file:line: message`).
pub fn build(_config: &Config) -> Result<Vec<Arc<dyn Stage>>, Vec<String>> {
    Ok(Vec::new())
}

/// Stage-specific warnings for `check-config` and start-up.
pub fn warnings(_config: &Config) -> Vec<String> {
    Vec::new()
}
