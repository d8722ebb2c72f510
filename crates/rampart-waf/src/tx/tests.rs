//! Transaction behaviour with stand-in operators and transformations.

use std::borrow::Cow;
use std::sync::Arc;

use crate::compile::Builder;
use crate::operator::{Operator, OperatorContext, OperatorError};

/// `@streq` stand-in so these tests do not depend on the operator set.
#[derive(Debug)]
struct StrEq(String);

impl Operator for StrEq {
    fn evaluate(&self, ctx: &mut dyn OperatorContext, input: &[u8]) -> bool {
        ctx.expand(&self.0).as_bytes() == input
    }
}

fn streq(param: &str, _: Option<&std::path::Path>) -> Result<Box<dyn Operator>, OperatorError> {
    Ok(Box::new(StrEq(param.to_string())))
}

fn trim(input: &[u8]) -> Cow<'_, [u8]> {
    let s = crate::tx::request::trim(input);
    if s.len() == input.len() { Cow::Borrowed(input) } else { Cow::Owned(s.to_vec()) }
}

fn lower(input: &[u8]) -> Cow<'_, [u8]> {
    if input.iter().any(u8::is_ascii_uppercase) { Cow::Owned(input.to_ascii_lowercase()) } else { Cow::Borrowed(input) }
}

fn engine(rules: &str) -> Arc<crate::Engine> {
    let mut b = Builder::new();
    b.register_operator("streq", streq).register_transform("trim", trim).register_transform("lowercase", lower);
    b.load_str(rules, None).unwrap();
    Arc::new(b.build().unwrap())
}

#[test]
fn multi_match_sees_intermediate_values() {
    let e = engine(
        "SecDefaultAction \"phase:1,nolog,deny,status:403\"\n\
         SecRule ARGS \"@streq tEst2\" \"id:1,phase:1,multiMatch,block,t:none,t:trim,t:lowercase\"",
    );
    let mut tx = e.transaction();
    tx.process_uri("/?a=%20tEst2", "GET", "HTTP/1.1");
    assert_eq!(tx.process_request_headers().map(|i| i.status), Some(403));
}

#[test]
fn chain_setvar_feeds_next_link_and_anomaly_scoring_blocks() {
    let e = engine(
        "SecRule ARGS:a \"@streq x\" \"id:1,phase:1,pass,setvar:tx.v=x,setvar:tx.score=+5,chain\"\n\
         SecRule TX:v \"@streq x\" \"setvar:tx.score=+5\"\n\
         SecRule TX:score \"@streq 10\" \"id:2,phase:1,deny,status:418\"",
    );
    let mut tx = e.transaction();
    tx.process_uri("/?a=x", "GET", "HTTP/1.1");
    assert_eq!(tx.process_request_headers().map(|i| i.status), Some(418));
    assert_eq!(tx.tx_var("score").as_deref(), Some("10"));
    assert_eq!(tx.matched_rules().iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn detection_only_logs_without_interrupting() {
    let e = engine("SecRuleEngine DetectionOnly\nSecRule ARGS \"@streq x\" \"id:1,phase:1,deny\"");
    let mut tx = e.transaction();
    tx.process_uri("/?a=x", "GET", "HTTP/1.1");
    assert!(tx.process_request_headers().is_none());
    assert_eq!(tx.matched_rules().len(), 1);
}

#[test]
fn runtime_target_removal_and_skip_after() {
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,ctl:ruleRemoveTargetById=3;ARGS:a\"\n\
         SecAction \"id:2,phase:1,pass,nolog,skipAfter:END\"\n\
         SecRule ARGS \"@streq x\" \"id:3,phase:1,deny\"\n\
         SecRule ARGS \"@streq x\" \"id:4,phase:1,deny\"\n\
         SecMarker END\n\
         SecRule ARGS \"@streq x\" \"id:5,phase:1,deny,status:401\"",
    );
    let mut tx = e.transaction();
    tx.process_uri("/?a=x", "GET", "HTTP/1.1");
    assert_eq!(tx.process_request_headers().map(|i| i.rule_id), Some(5));
}

#[test]
fn persistent_ip_collection_counts_across_transactions() {
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR},setvar:ip.hits=+1,expirevar:ip.hits=3600\"\n\
         SecRule IP:hits \"@streq 3\" \"id:2,phase:1,deny,status:429\"",
    );
    let mut last = None;
    for _ in 0..3 {
        let mut tx = e.transaction();
        tx.process_connection("198.51.100.7", 1234, "10.0.0.1", 80);
        tx.process_uri("/", "GET", "HTTP/1.1");
        last = tx.process_request_headers().map(|i| i.status);
        tx.process_logging();
    }
    assert_eq!(last, Some(429));
    let mut other = e.transaction();
    other.process_connection("198.51.100.8", 1234, "10.0.0.1", 80);
    other.process_uri("/", "GET", "HTTP/1.1");
    assert!(other.process_request_headers().is_none());
}
