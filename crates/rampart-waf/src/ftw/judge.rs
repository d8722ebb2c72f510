//! Deciding whether a test passed, from what the WAF logged and what the client saw.

use regex::Regex;

use super::model::Output;

/// What running a stage produced.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Ids of the rules that matched and log (`log`, not `nolog`), in order.
    pub logged_ids: Vec<u64>,
    /// The WAF's error-log lines for this request, one per logged rule.
    pub log: String,
    /// The status the client received.
    pub status: u16,
    /// The request failed at the HTTP level (connection error, not a status).
    pub error: bool,
    /// The response body the client received.
    pub response_body: String,
}

/// Judge `observed` against `expected`: `Ok` or the reasons it failed.
pub fn judge(expected: &Output, observed: &Observed) -> Result<(), String> {
    let mut reasons = Vec::new();
    if expected.expect_error == Some(true) && !observed.error && expected.log.is_none() && expected.status.is_none() {
        reasons.push("expected an HTTP-level error".to_string());
    }
    if let Some(status) = &expected.status {
        if !status.accepts(observed.status) {
            reasons.push(format!("status {} not in {:?}", observed.status, status));
        }
    }
    if let Some(log) = &expected.log {
        let missing: Vec<u64> = log.expect_ids.iter().copied().filter(|id| !observed.logged_ids.contains(id)).collect();
        if !missing.is_empty() {
            reasons.push(format!("expected ids {missing:?} not logged"));
        }
        let unwanted: Vec<u64> = log.no_expect_ids.iter().copied().filter(|id| observed.logged_ids.contains(id)).collect();
        if !unwanted.is_empty() {
            reasons.push(format!("ids {unwanted:?} logged but not expected"));
        }
        check_regex(&log.match_regex, &observed.log, true, &mut reasons);
        check_regex(&log.no_match_regex, &observed.log, false, &mut reasons);
    }
    check_regex(&expected.log_contains, &observed.log, true, &mut reasons);
    check_regex(&expected.no_log_contains, &observed.log, false, &mut reasons);
    if let Some(text) = &expected.response_contains {
        if !observed.response_body.contains(text.as_str()) {
            reasons.push(format!("response does not contain `{text}`"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons.join("; "))
    }
}

fn check_regex(pattern: &Option<String>, log: &str, should_match: bool, reasons: &mut Vec<String>) {
    let Some(p) = pattern else { return };
    match Regex::new(p) {
        Ok(re) if re.is_match(log) != should_match => {
            reasons.push(format!("log {} `{p}`", if should_match { "does not match" } else { "matches" }))
        }
        Ok(_) => {}
        Err(e) => reasons.push(format!("bad regex `{p}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftw::model::{LogExpect, Output};

    #[test]
    fn ids() {
        let out = Output { log: Some(LogExpect { expect_ids: vec![1], no_expect_ids: vec![2], ..Default::default() }), ..Default::default() };
        let mut obs = Observed { logged_ids: vec![1, 3], status: 200, ..Default::default() };
        assert!(judge(&out, &obs).is_ok());
        obs.logged_ids.push(2);
        assert!(judge(&out, &obs).is_err());
    }
}
