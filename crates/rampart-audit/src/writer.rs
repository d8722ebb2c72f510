//! The writer thread: group commit, checkpoints, rotation.
//!
//! It takes whatever is queued (up to [`MAX_BATCH`] records), frames it into one buffer, writes
//! it with one `write` and one `fdatasync`, and only then acknowledges every record of the
//! batch and adds them to the tree. Appenders that arrive while a batch is being synced form
//! the next batch, so the number of fsyncs per second stays bounded however many appenders
//! there are. Between batches it signs a checkpoint once `checkpoint_interval` has passed
//! since the tree grew, and starts a new segment when the current one is full.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::checkpoint::{self, Checkpoint};
use crate::error::AuditError;
use crate::log::{sync_dir, Options};
use crate::merkle::Frontier;
use crate::note::NoteSigner;
use crate::record::{Prepared, Record};
use crate::retention::{Retention, SegmentStart};
use crate::segment;
use std::collections::VecDeque;

/// The most records written with one fsync.
pub const MAX_BATCH: usize = 8192;

type Ack = SyncSender<Result<u64, AuditError>>;

/// What appenders send the writer.
pub(crate) enum Msg {
    Append(Prepared, Option<Ack>),
    Close(SyncSender<Result<(), AuditError>>),
}

pub(crate) struct Writer {
    dir: PathBuf,
    signer: NoteSigner,
    frontier: Frontier,
    file: File,
    path: PathBuf,
    /// Bytes in the current segment that are on disk.
    len: u64,
    max_bytes: u64,
    interval: Duration,
    last_checkpoint: Option<u64>,
    last_checkpoint_at: Instant,
    dropped: Arc<AtomicU64>,
    buf: Vec<u8>,
    /// Set when the log can no longer be written safely (an fsync failed).
    failed: Option<String>,
    /// Every segment on disk with the tree where it begins, oldest first; the last is `path`.
    segments: VecDeque<SegmentStart>,
    retention: Retention,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        options: &Options,
        signer: NoteSigner,
        frontier: Frontier,
        file: File,
        path: PathBuf,
        len: u64,
        last_checkpoint: Option<u64>,
        dropped: Arc<AtomicU64>,
        segments: VecDeque<SegmentStart>,
    ) -> Writer {
        Writer {
            dir: options.dir.clone(),
            signer,
            frontier,
            file,
            path,
            len,
            max_bytes: options.segment_max_bytes.max(1),
            interval: options.checkpoint_interval,
            last_checkpoint,
            last_checkpoint_at: Instant::now(),
            dropped,
            buf: Vec::with_capacity(1 << 20),
            failed: None,
            segments,
            retention: options.retention,
        }
    }

    pub(crate) fn run(mut self, rx: Receiver<Msg>) {
        let mut batch: Vec<(Prepared, Option<Ack>)> = Vec::with_capacity(MAX_BATCH);
        loop {
            let first = match rx.recv_timeout(self.until_checkpoint()) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    self.checkpoint_logged();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.checkpoint_logged();
                    return;
                }
            };
            let mut close = None;
            match first {
                Msg::Append(r, ack) => batch.push((r, ack)),
                Msg::Close(ack) => close = Some(ack),
            }
            while close.is_none() && batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(Msg::Append(r, ack)) => batch.push((r, ack)),
                    Ok(Msg::Close(ack)) => close = Some(ack),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() || self.dropped.load(Ordering::Relaxed) > 0 {
                self.write_batch(&mut batch);
            }
            if let Some(ack) = close {
                let result = self.checkpoint().and_then(|_| self.retention.apply(&self.dir, &mut self.segments).map(|_| ()));
                let _ = ack.send(result);
                return;
            }
            if self.last_checkpoint_at.elapsed() >= self.interval {
                self.checkpoint_logged();
            }
        }
    }

    /// How long until a checkpoint is due; long when the tree has not grown.
    fn until_checkpoint(&self) -> Duration {
        if self.frontier.size() > self.last_checkpoint.unwrap_or(0) {
            self.interval.saturating_sub(self.last_checkpoint_at.elapsed())
        } else {
            Duration::from_secs(3600)
        }
    }

    fn write_batch(&mut self, batch: &mut Vec<(Prepared, Option<Ack>)>) {
        self.buf.clear();
        let mut leaves = Vec::with_capacity(batch.len() + 1);
        let mut seqs = Vec::with_capacity(batch.len());
        let lost = self.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let mut body = Map::new();
            body.insert("count".into(), Value::from(lost));
            body.insert("reason".into(), Value::from("the audit queue was full, or a record was too large"));
            if let Some(p) = Record::now("audit.dropped", body).prepare() {
                self.frame(&p, &mut leaves);
            }
        }
        for (record, _) in batch.iter() {
            seqs.push(self.frame(record, &mut leaves));
        }
        let result = match &self.failed {
            Some(reason) => Err(reason.clone()),
            None => self.persist(),
        };
        match result {
            Ok(()) => {
                for leaf in leaves {
                    self.frontier.push(leaf);
                }
                for ((_, ack), seq) in batch.drain(..).zip(seqs) {
                    if let Some(ack) = ack {
                        let _ = ack.send(Ok(seq));
                    }
                }
                self.rotate_if_full();
            }
            Err(reason) => {
                self.dropped.fetch_add(lost, Ordering::Relaxed);
                for (_, ack) in batch.drain(..) {
                    if let Some(ack) = ack {
                        let _ = ack.send(Err(AuditError::WriterStopped(format!(": {reason}"))));
                    }
                }
            }
        }
    }

    /// Frame `record` as the next leaf after those already framed in this batch.
    fn frame(&mut self, record: &Prepared, leaves: &mut Vec<crate::merkle::Hash>) -> u64 {
        let seq = self.frontier.size() + leaves.len() as u64;
        leaves.push(record.finish(seq, &mut self.buf));
        seq
    }

    /// Write and fsync the buffer. A failed write is cut off again; a failed fsync stops the
    /// writer for good (the kernel may have dropped the pages: nothing later can be trusted).
    fn persist(&mut self) -> Result<(), String> {
        if let Err(e) = self.file.write_all(&self.buf) {
            let reason = format!("writing {}: {e}", self.path.display());
            if let Err(e2) = self.file.set_len(self.len) {
                self.fail(format!("{reason}; cutting it back: {e2}"));
            }
            return Err(reason);
        }
        if let Err(e) = self.file.sync_data() {
            let reason = format!("fsync of {}: {e}", self.path.display());
            self.fail(reason.clone());
            return Err(reason);
        }
        self.len += self.buf.len() as u64;
        Ok(())
    }

    fn fail(&mut self, reason: String) {
        tracing::error!(target: "rampart::audit", "the audit log stops accepting records: {reason}");
        self.failed = Some(reason);
    }

    fn rotate_if_full(&mut self) {
        if self.len < self.max_bytes {
            return;
        }
        let path = self.dir.join(segment::file_name(self.frontier.size()));
        let opened = File::options().create_new(true).append(true).open(&path);
        match opened.map_err(AuditError::io(&path)).and_then(|f| sync_dir(&self.dir).map(|_| f)) {
            Ok(file) => {
                self.file = file;
                self.path = path.clone();
                self.len = 0;
                self.segments.push_back(SegmentStart { path, frontier: self.frontier.clone() });
            }
            Err(e) => tracing::warn!(target: "rampart::audit", error = %e, "cannot start a new segment; the current one grows"),
        }
    }

    /// Sign and store a checkpoint of the current tree if it grew since the last one.
    fn checkpoint(&mut self) -> Result<(), AuditError> {
        let size = self.frontier.size();
        if size == 0 || self.last_checkpoint == Some(size) || self.failed.is_some() {
            return Ok(());
        }
        let cp = Checkpoint { origin: self.signer.name().to_string(), size, root: self.frontier.root() };
        let note = cp.sign(&self.signer);
        checkpoint::store(&self.dir, size, &note).map_err(AuditError::io(self.dir.join(checkpoint::CHECKPOINT_DIR)))?;
        self.last_checkpoint = Some(size);
        self.last_checkpoint_at = Instant::now();
        Ok(())
    }

    /// A checkpoint, then retention (which relies on the checkpoint covering the kept records).
    fn checkpoint_logged(&mut self) {
        if let Err(e) = self.checkpoint() {
            tracing::error!(target: "rampart::audit", error = %e, "cannot write a checkpoint");
            // Try again after another interval rather than at once in a loop.
            self.last_checkpoint_at = Instant::now();
            return;
        }
        if let Err(e) = self.retention.apply(&self.dir, &mut self.segments) {
            tracing::error!(target: "rampart::audit", error = %e, "retention failed");
        }
    }
}
