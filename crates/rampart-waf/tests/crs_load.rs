//! The OWASP CRS v4 (`crs-setup.conf.example` + `rules/*.conf`) loads with no error and no
//! skipped rule.

use std::path::Path;

use rampart_waf::ftw::crs;
use rampart_waf::Builder;

#[test]
fn crs_loads_without_errors() {
    let shared = crs::shared_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    let crs_dir = shared.join("crs");
    let mut builder = Builder::new();
    let files = crs::crs_files(&crs_dir).expect("CRS rules directory");
    let mut errors = Vec::new();
    for f in &files {
        if let Err(e) = builder.load_file(f) {
            errors.push(e.to_string());
        }
    }
    for e in &errors {
        eprintln!("load error: {e}");
    }
    let count = builder.rule_count();
    println!("crs-load: {} files, {} rules, {} errors, 0 skipped", files.len(), count, errors.len());
    assert!(errors.is_empty(), "{} load errors", errors.len());
    let engine = builder.build().expect("engine");
    assert_eq!(engine.rule_count(), count);
    assert!(count > 500, "only {count} rules");
}

#[test]
fn crs_loads_through_include_globs() {
    let shared = crs::shared_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    let crs_dir = shared.join("crs").canonicalize().expect("CRS directory");
    let dir = std::env::temp_dir().join(format!("rampart-waf-include-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let main = dir.join("main.conf");
    let text = format!(
        "# main configuration\nSecRuleEngine DetectionOnly\nInclude \"{crs}/crs-setup.conf.example\"\nInclude {crs}/rules/*.conf\n",
        crs = crs_dir.display()
    );
    std::fs::write(&main, text).expect("write main.conf");
    let engine = rampart_waf::Engine::from_file(&main).expect("loads");
    let _ = std::fs::remove_dir_all(&dir);
    let mut direct = Builder::new();
    for f in crs::crs_files(&crs_dir).expect("files") {
        direct.load_file(&f).expect("loads");
    }
    assert_eq!(engine.rule_count(), direct.rule_count());
    assert_eq!(engine.config().rule_engine, rampart_waf::EngineMode::DetectionOnly);
}

#[test]
fn load_errors_carry_file_line_and_column() {
    let err = rampart_waf::Engine::from_str("SecRuleEngine On\n\nSecRule ARGS \"@rx a\" \"id:1,phase:2,bogus\"\n", None).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("<inline>:3:22:"), "{text}");
    assert!(text.contains("bogus"), "{text}");
    let err = rampart_waf::Engine::from_str("SecRule NOPE \"@rx a\" \"id:1\"", None).unwrap_err();
    assert!(err.to_string().contains("unknown variable"), "{err}");
    let err = rampart_waf::Engine::from_str("SecRule ARGS \"@rx a\" \"id:1,t:nosuchthing\"", None).unwrap_err();
    assert!(err.to_string().contains("t:nosuchthing"), "{err}");
    let err = rampart_waf::Engine::from_str("SecFoo On", None).unwrap_err();
    assert!(err.to_string().contains("unknown directive"), "{err}");
}

#[test]
fn errors_in_continued_rules_point_at_the_physical_line() {
    let text = "SecRule ARGS \\\n    \"@rx a\" \\\n    \"id:1,\\\n    phase:2,\\\n    nosuchaction\"\n";
    let err = rampart_waf::Engine::from_str(text, None).unwrap_err().to_string();
    assert!(err.starts_with("<inline>:3:5:"), "{err}");
    let err = rampart_waf::Engine::from_str("SecRule ARGS \\\n  \"@nosuchop a\" \"id:1\"", None).unwrap_err().to_string();
    assert!(err.starts_with("<inline>:2:3:"), "{err}");
}
