//! [`AuditLog`]: opening a log directory for writing, and the two ways to append.
//!
//! Opening replays the whole log against its latest checkpoint (so a log that was tampered
//! with while the shield was down is refused, not extended), repairs a torn tail, and starts
//! the writer thread. [`AuditLog::append`] returns once the record is on disk;
//! [`AuditLog::submit`] never waits, for the request path.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::checkpoint::CHECKPOINT_DIR;
use crate::error::AuditError;
use crate::note::NoteSigner;
use crate::record::Record;
use crate::replay::Replay;
use crate::retention::{Retention, SegmentStart};
use crate::segment::{self, TornTail};
use crate::verify::{self, VERIFIER_KEY_FILE};
use crate::writer::{Msg, Writer};

/// How to open a log.
#[derive(Debug, Clone)]
pub struct Options {
    /// The log directory (created if missing).
    pub dir: PathBuf,
    /// The signer key file (`PRIVATE+KEY+…`), outside `dir`.
    pub signing_key: PathBuf,
    /// A checkpoint is written at most this long after the tree grows. Default 1 s.
    pub checkpoint_interval: Duration,
    /// A segment is closed and a new one started once it reaches this size. Default 64 MiB.
    pub segment_max_bytes: u64,
    /// Records waiting for the writer; [`AuditLog::submit`] drops (and counts) beyond it.
    /// Default 65,536.
    pub queue: usize,
    /// When old segments are removed (checked at each checkpoint). Default: never.
    pub retention: Retention,
}

impl Options {
    /// The defaults for `dir` and `signing_key`.
    pub fn new(dir: impl Into<PathBuf>, signing_key: impl Into<PathBuf>) -> Options {
        Options {
            dir: dir.into(),
            signing_key: signing_key.into(),
            checkpoint_interval: Duration::from_secs(1),
            segment_max_bytes: 64 << 20,
            queue: 65_536,
            retention: Retention::default(),
        }
    }
}

/// What opening found.
#[derive(Debug, Clone)]
pub struct Opened {
    /// Records already in the log.
    pub records: u64,
    /// The torn tail that was cut off, if the last run was interrupted mid-write.
    pub repaired: Option<TornTail>,
}

/// An open audit log with its writer thread.
pub struct AuditLog {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
    dropped_total: AtomicU64,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    opened: Opened,
    verifier_key: String,
}

impl AuditLog {
    /// Open (or create) the log in `options.dir`.
    pub fn open(options: Options) -> Result<AuditLog, AuditError> {
        let dir = &options.dir;
        fs::create_dir_all(dir.join(CHECKPOINT_DIR)).map_err(AuditError::io(dir))?;
        let signer = load_signer(dir, &options.signing_key)?;
        let verifier = signer.verifier();
        let key_file = dir.join(VERIFIER_KEY_FILE);
        match fs::read_to_string(&key_file) {
            Ok(existing) if existing.trim() != verifier.to_text() => {
                return Err(AuditError::KeyChanged { dir: dir.clone(), existing: existing.trim().into(), configured: verifier.to_text() })
            }
            Ok(_) => {}
            Err(_) => write_synced(&key_file, format!("{}\n", verifier.to_text()).as_bytes())?,
        }
        // Only the latest checkpoint: every earlier one is its prefix, and `verify` checks all.
        let latest = verify::checkpoints(dir, &verifier)?.pop();
        let last_checkpoint = latest.as_ref().map(|e| e.checkpoint.size);
        let mut replay = Replay::new(latest.into_iter().collect(), false, crate::base::load(dir)?)?;
        let scanned = segment::scan(dir, &mut |frame| replay.visit(frame))?;
        replay.finish(&scanned)?;
        if let Some(torn) = &scanned.torn {
            let f = OpenOptions::new().write(true).open(&torn.segment).map_err(AuditError::io(&torn.segment))?;
            f.set_len(torn.offset).and_then(|_| f.sync_all()).map_err(AuditError::io(&torn.segment))?;
            tracing::warn!(target: "rampart::audit", "repaired the {torn}");
        }
        for stale in &scanned.stale {
            fs::remove_file(stale).map_err(AuditError::io(stale))?;
            tracing::info!(target: "rampart::audit", "removed {}, which retention had replaced with the base file", stale.display());
        }
        let (path, len) = match scanned.segments.last() {
            Some((_, path, len)) => (path.clone(), *len),
            None => {
                let path = dir.join(segment::file_name(scanned.records));
                fs::File::create(&path).map_err(AuditError::io(&path))?;
                sync_dir(dir)?;
                (path, 0)
            }
        };
        let file = OpenOptions::new().append(true).open(&path).map_err(AuditError::io(&path))?;
        let (tx, rx) = mpsc::sync_channel(options.queue.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let opened = Opened { records: scanned.records, repaired: scanned.torn.clone() };
        let mut segments: std::collections::VecDeque<SegmentStart> = scanned
            .segments
            .iter()
            .zip(replay.segment_starts.iter().map(|(_, f)| f.clone()).chain(std::iter::repeat(replay.frontier.clone())))
            .map(|((_, path, _), frontier)| SegmentStart { path: path.clone(), frontier })
            .collect();
        if segments.is_empty() {
            segments.push_back(SegmentStart { path: path.clone(), frontier: replay.frontier.clone() });
        }
        let writer = Writer::new(&options, signer, replay.frontier, file, path, len, last_checkpoint, Arc::clone(&dropped), segments);
        let handle = std::thread::Builder::new()
            .name("rampart-audit".into())
            .spawn(move || writer.run(rx))
            .map_err(AuditError::io(dir))?;
        let log = AuditLog { tx, dropped, dropped_total: AtomicU64::new(0), writer: Mutex::new(Some(handle)), opened, verifier_key: verifier.to_text() };
        // The repair itself goes on the record, ahead of anything else this run writes.
        if let Some(torn) = &scanned.torn {
            let mut body = serde_json::Map::new();
            body.insert("segment".into(), torn.segment.display().to_string().into());
            body.insert("offset".into(), torn.offset.into());
            body.insert("bytes".into(), torn.bytes.into());
            body.insert("reason".into(), torn.reason.into());
            log.submit(Record::now("audit.repaired", body));
        }
        Ok(log)
    }

    /// What opening found.
    pub fn opened(&self) -> &Opened {
        &self.opened
    }

    /// The verifier key of this log's checkpoints.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// Append `record` and wait until it is on disk (written and fsynced with its batch).
    /// Returns its index, which is its ID.
    pub fn append(&self, record: Record) -> Result<u64, AuditError> {
        let prepared = record.prepare().ok_or(AuditError::RecordTooLarge(segment::MAX_RECORD))?;
        let (ack, done) = mpsc::sync_channel(1);
        self.tx.send(Msg::Append(prepared, Some(ack))).map_err(|_| AuditError::WriterStopped(String::new()))?;
        done.recv().map_err(|_| AuditError::WriterStopped(String::new()))?
    }

    /// Queue `record` without waiting. When the queue is full the record is dropped and
    /// counted; the writer then writes an `audit.dropped` record saying how many, so a loss is
    /// itself on the record. Returns whether the record was queued.
    pub fn submit(&self, record: Record) -> bool {
        let sent = match record.prepare() {
            Some(prepared) => self.tx.try_send(Msg::Append(prepared, None)).map_err(|e| matches!(e, TrySendError::Full(_))),
            None => Err(true),
        };
        match sent {
            Ok(()) => true,
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                self.dropped_total.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Records [`AuditLog::submit`] dropped since the log was opened.
    pub fn dropped(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    /// Write what is queued, a final checkpoint, and stop the writer.
    pub fn close(&self) -> Result<(), AuditError> {
        let Some(handle) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else { return Ok(()) };
        let (ack, done) = mpsc::sync_channel(1);
        let sent = self.tx.send(Msg::Close(ack)).is_ok();
        let result = if sent { done.recv().unwrap_or_else(|_| Err(AuditError::WriterStopped(String::new()))) } else { Ok(()) };
        let _ = handle.join();
        result
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(target: "rampart::audit", error = %e, "closing the audit log");
        }
    }
}

/// Read the signer key, refusing one inside the log directory.
fn load_signer(dir: &Path, key: &Path) -> Result<NoteSigner, AuditError> {
    let key_abs = fs::canonicalize(key).map_err(AuditError::io(key))?;
    let dir_abs = fs::canonicalize(dir).map_err(AuditError::io(dir))?;
    if key_abs.starts_with(&dir_abs) {
        return Err(AuditError::KeyInsideLog { key: key.into(), dir: dir.into() });
    }
    let text = fs::read_to_string(key).map_err(AuditError::io(key))?;
    NoteSigner::parse(&text).map_err(|source| AuditError::Key { path: key.into(), source })
}

/// Write a small file durably (file and directory fsynced).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes)
        .and_then(|_| fs::File::open(&tmp)?.sync_all())
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(AuditError::io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// fsync a directory, so that a created or renamed entry survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(AuditError::io(dir))
}
