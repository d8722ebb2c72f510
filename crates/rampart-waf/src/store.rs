//! Persistent collections (`IP`, `GLOBAL`, `SESSION`, `USER`, `RESOURCE`): loaded by
//! `initcol` at the start of use and written back at the end of the transaction, through a
//! [`PersistentStore`] the service can back with its own state store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// A collection record: key → value.
pub type Record = BTreeMap<String, Vec<u8>>;

/// Where persistent collections live between transactions.
pub trait PersistentStore: Send + Sync {
    /// Read record `key` of `collection` (`IP`, …); `None` when absent.
    fn load(&self, collection: &str, key: &str) -> Option<Record>;
    /// Write record `key` of `collection` back.
    fn store(&self, collection: &str, key: &str, record: Record);
}

/// The default store: a bounded in-memory map (oldest-inserted records evicted past the cap).
#[derive(Debug)]
pub struct MemoryStore {
    records: Mutex<HashMap<(String, String), Record>>,
    max_records: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore { records: Mutex::new(HashMap::new()), max_records: 100_000 }
    }
}

impl MemoryStore {
    /// A store holding at most `max_records` records.
    pub fn with_capacity(max_records: usize) -> MemoryStore {
        MemoryStore { records: Mutex::new(HashMap::new()), max_records }
    }
}

impl PersistentStore for MemoryStore {
    fn load(&self, collection: &str, key: &str) -> Option<Record> {
        let records = self.records.lock().ok()?;
        records.get(&(collection.to_string(), key.to_string())).cloned()
    }

    fn store(&self, collection: &str, key: &str, record: Record) {
        if let Ok(mut records) = self.records.lock() {
            if records.len() >= self.max_records && !records.contains_key(&(collection.to_string(), key.to_string())) {
                if let Some(victim) = records.keys().next().cloned() {
                    records.remove(&victim);
                }
            }
            records.insert((collection.to_string(), key.to_string()), record);
        }
    }
}
