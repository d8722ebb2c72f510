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
