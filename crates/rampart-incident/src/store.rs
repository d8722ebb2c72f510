//! Incidents on disk: one pretty-printed JSON file per incident, `DIR/INC-YYYYMMDD-NNNN.json`,
//! replaced whole by write-to-temp, fsync and rename, so a reader (or a crash) never sees half
//! a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::{EntryKind, Incident, Status, TimelineEntry};

/// A failure to read or write the incident directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an incident file: {source}")]
    Format {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{0}` is not an incident id (INC-YYYYMMDD-NNNN)")]
    BadId(String),
    #[error("no incident {id} in {dir}")]
    NotFound { id: String, dir: PathBuf },
}

/// The incident directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// True for `INC-` + 8 digits + `-` + 4 or more digits: the only names the store reads, so
/// an id from a command line or the admin API can never name another file.
pub fn is_incident_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("INC-") else { return false };
    let Some((day, seq)) = rest.split_once('-') else { return false };
    day.len() == 8 && seq.len() >= 4 && seq.len() <= 9 && (day.bytes().chain(seq.bytes())).all(|b| b.is_ascii_digit())
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io { path: path.to_path_buf(), source }
    }

    /// Write (or replace) `incident`'s file.
    pub fn write(&self, incident: &Incident) -> Result<(), StoreError> {
        if !is_incident_id(&incident.id) {
            return Err(StoreError::BadId(incident.id.clone()));
        }
        std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let path = self.dir.join(format!("{}.json", incident.id));
        let tmp = self.dir.join(format!(".{}.json.tmp", incident.id));
        let text =
            serde_json::to_vec_pretty(incident).map_err(|source| StoreError::Format { path: path.clone(), source })?;
        let mut f = std::fs::File::create(&tmp).map_err(Self::io(&tmp))?;
        f.write_all(&text).and_then(|_| f.sync_all()).map_err(Self::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(Self::io(&path))?;
        Ok(())
    }

    /// Read incident `id`.
    pub fn load(&self, id: &str) -> Result<Incident, StoreError> {
        if !is_incident_id(id) {
            return Err(StoreError::BadId(id.to_string()));
        }
        let path = self.dir.join(format!("{id}.json"));
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound { id: id.to_string(), dir: self.dir.clone() })
            }
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        serde_json::from_slice(&text).map_err(|source| StoreError::Format { path, source })
    }

    /// The ids in the directory, oldest first (none when it does not exist yet).
    pub fn ids(&self) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::Io { path: self.dir.clone(), source: e }),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(str::to_string))
            .filter(|id| is_incident_id(id))
            .collect();
        ids.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
        Ok(ids)
    }

    /// The highest sequence number used on `day` (`YYYYMMDD`), 0 if none.
    pub fn max_seq(&self, day: &str) -> u32 {
        let prefix = format!("INC-{day}-");
        self.ids()
            .unwrap_or_default()
            .iter()
            .filter_map(|id| id.strip_prefix(&prefix).and_then(|s| s.parse().ok()))
            .max()
            .unwrap_or(0)
    }

    /// Close the incidents a previous run left open (it stopped or crashed mid-incident): they
    /// end where their record ends, with a note saying so. Returns their ids.
    pub fn close_interrupted(&self) -> Result<Vec<String>, StoreError> {
        let mut closed = Vec::new();
        for id in self.ids()? {
            let mut inc = self.load(&id)?;
            if inc.status != Status::Open {
                continue;
            }
            let series_end = inc
                .series
                .start
                .plus(std::time::Duration::from_secs(inc.series.step_secs * inc.series.points.len() as u64));
            let last = inc.timeline.iter().map(|e| e.at).max().unwrap_or(inc.opened_at).max(series_end);
            inc.timeline.push(TimelineEntry {
                at: last,
                kind: EntryKind::End,
                text: "the shield stopped while this incident was open; it was not followed past this point".into(),
            });
            inc.status = Status::Closed;
            inc.closed_at = Some(last);
            self.write(&inc)?;
            closed.push(id);
        }
        Ok(closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_they_name_a_file() {
        assert!(is_incident_id("INC-20261129-0001"));
        assert!(!is_incident_id("INC-20261129-0001/../../etc/passwd"));
        assert!(!is_incident_id("../INC-20261129-0001"));
        assert!(!is_incident_id("INC-2026112-0001"));
        let s = Store::new("/nonexistent");
        assert!(matches!(s.load("../../x"), Err(StoreError::BadId(_))));
    }
}
