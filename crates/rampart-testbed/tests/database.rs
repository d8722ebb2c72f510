//! The database option: default size in memory, and a file that is
//! (re)created on every start.

mod common;

use common::{logged_in, start};
use rampart_testbed::{Testbed, TestbedError, TestbedOptions};

#[tokio::test]
async fn default_options_seed_five_thousand_contacts() {
    let tb = start(TestbedOptions::default()).await;
    let client = logged_in(&tb).await;
    let csv = client.get(tb.url("/export.csv")).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.lines().count(), 5_001);
}

#[tokio::test]
async fn file_database_is_recreated_and_identical_for_a_seed() {
    let dir = std::env::temp_dir().join(format!("rampart-testbed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("contacts.sqlite");
    let opts = TestbedOptions { contacts: 300, database: Some(path.clone()), ..TestbedOptions::default() };
    let export = |opts: TestbedOptions| async move {
        let tb = start(opts).await;
        let client = logged_in(&tb).await;
        client.get(tb.url("/export.csv")).send().await.unwrap().text().await.unwrap()
    };
    let first = export(opts.clone()).await;
    assert!(path.exists());
    let second = export(opts).await;
    assert_eq!(first.lines().count(), 301);
    assert_eq!(first, second, "same seed, same data; the old table was replaced, not appended to");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_options_are_refused() {
    let err = Testbed::new(TestbedOptions { max_concurrent: Some(0), ..TestbedOptions::default() }).err();
    assert!(matches!(err, Some(TestbedError::InvalidOption(_))));
    let err = Testbed::new(TestbedOptions {
        database: Some("/nonexistent-dir/for/sure/contacts.sqlite".into()),
        ..TestbedOptions::default()
    })
    .err();
    assert!(matches!(err, Some(TestbedError::Database(_))));
}
