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

fn post(e: &Arc<crate::Engine>, content_type: &str, body: &[u8]) -> crate::Transaction {
    let mut tx = e.transaction();
    tx.process_uri("/submit?from=query", "POST", "HTTP/1.1");
    tx.add_request_header("Content-Type", content_type);
    tx.process_request_headers();
    tx.append_request_body(body);
    tx.process_request_body();
    tx
}

fn matched_names(tx: &crate::Transaction) -> Vec<String> {
    tx.matched_rules().iter().flat_map(|r| r.matched.iter().map(|m| m.name.clone())).collect()
}

#[test]
fn body_processors_feed_args_and_xml() {
    let rules = "SecArgumentSeparator ;\n\
         SecRule REQUEST_HEADERS:Content-Type \"@streq application/json\" \"id:1,phase:1,pass,ctl:requestBodyProcessor=JSON\"\n\
         SecRule REQUEST_HEADERS:Content-Type \"@streq text/xml\" \"id:2,phase:1,pass,ctl:requestBodyProcessor=XML\"\n\
         SecRule ARGS_POST|XML:/* \"@streq hit\" \"id:10,phase:2,pass\"\n\
         SecRule REQBODY_PROCESSOR \"@streq JSON\" \"id:11,phase:2,pass\"";
    let e = engine(rules);
    let tx = post(&e, "application/x-www-form-urlencoded", b"a=miss;b=hit");
    assert_eq!(matched_names(&tx), vec!["ARGS_POST:b"]);
    let tx = post(&e, "application/json", br#"{"user":{"name":"hit"},"list":["x","hit"]}"#);
    assert_eq!(
        matched_names(&tx),
        vec!["REQUEST_HEADERS:Content-Type", "ARGS_POST:json.user.name", "ARGS_POST:json.list.1", "REQBODY_PROCESSOR"]
    );
    let tx = post(&e, "text/xml", b"<a><b>hit</b></a>");
    assert_eq!(matched_names(&tx), vec!["REQUEST_HEADERS:Content-Type", "XML:/*"]);
}

#[test]
fn redirect_and_allow() {
    let e = engine(
        "SecRule ARGS:go \"@streq away\" \"id:1,phase:1,redirect:https://example.org/%{ARGS.go}\"\n\
         SecRule ARGS:ok \"@streq yes\" \"id:2,phase:1,allow\"\n\
         SecRule ARGS \"@streq yes\" \"id:3,phase:2,deny\"",
    );
    let mut tx = e.transaction();
    tx.process_uri("/?go=away", "GET", "HTTP/1.1");
    let i = tx.process_request_headers().expect("redirected");
    assert_eq!((i.status, i.redirect.as_deref()), (302, Some("https://example.org/away")));
    let mut tx = e.transaction();
    tx.process_uri("/?ok=yes", "GET", "HTTP/1.1");
    assert!(tx.process_request_headers().is_none());
    assert!(tx.process_request_body().is_none(), "allow skips phase 2");
}
