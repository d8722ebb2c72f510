//! Segment files and their frames.
//!
//! The log is a run of files `segment-NNNNNNNNNNNN.log`, `N` being the index of the segment's
//! first record. Each record is one frame: its length (u32, little-endian), the CRC-32 of the
//! payload (u32, little-endian), the payload (the record's canonical bytes).
//!
//! [`scan`] walks every frame of every segment in order and classifies damage: an incomplete
//! frame, or a checksum failure in the very last frame of the last segment, is a *torn tail*
//! (what a crash in the middle of a write leaves; the records in it were never acknowledged);
//! anything else is corruption, reported with segment, offset and record index.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::AuditError;

/// Bytes before each payload: length and CRC.
pub const FRAME_HEADER: usize = 8;
/// The largest record accepted. A larger length field is corruption, never a torn write.
pub const MAX_RECORD: usize = 1 << 20;

/// The file name of the segment whose first record is `first`.
pub fn file_name(first: u64) -> String {
    format!("segment-{first:012}.log")
}

/// Append the frame of `payload` to `out`.
pub fn frame_into(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The segments of a log directory, by first record index.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, AuditError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(AuditError::io(dir))? {
        let entry = entry.map_err(AuditError::io(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(first) = name.strip_prefix("segment-").and_then(|n| n.strip_suffix(".log")) else { continue };
        match first.parse::<u64>() {
            Ok(first) if first.to_string().len() <= 12 && name.len() == 24 => out.push((first, entry.path())),
            _ => {
                return Err(AuditError::Corrupt {
                    segment: entry.path(),
                    offset: 0,
                    index: 0,
                    reason: "a segment file name must be segment-<12 digits>.log".into(),
                })
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One frame as [`scan`] hands it over.
pub struct Frame<'a> {
    pub index: u64,
    pub segment: &'a Path,
    pub offset: u64,
    pub payload: &'a [u8],
}

/// Where a crash cut the last write short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub segment: PathBuf,
    /// Where the incomplete frame starts; the file is cut here on repair.
    pub offset: u64,
    /// The index the incomplete record would have had.
    pub index: u64,
    /// Bytes after `offset`.
    pub bytes: u64,
    pub reason: &'static str,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "torn tail in {} at offset {} ({} bytes, {}; record {} was never acknowledged)", self.segment.display(), self.offset, self.bytes, self.reason, self.index)
    }
}

/// What a scan found.
#[derive(Debug, Clone, Default)]
pub struct Scanned {
    /// The index of the first kept record (the `base` size; 0 when nothing was removed).
    pub start: u64,
    /// The tree size: `start` plus the complete, intact records.
    pub records: u64,
    /// Segments wholly before `start`, left by an interrupted retention pass.
    pub stale: Vec<PathBuf>,
    /// The segments, with their first index and valid length in bytes.
    pub segments: Vec<(u64, PathBuf, u64)>,
    pub torn: Option<TornTail>,
}

/// Walk every frame of the log in `dir` (from its `base`, if retention removed a prefix) and
/// call `visit` for each intact one.
///
/// Stops at the first corruption; an error from `visit` stops the walk and is returned.
pub fn scan(dir: &Path, visit: &mut dyn FnMut(Frame<'_>) -> Result<(), AuditError>) -> Result<Scanned, AuditError> {
    let start = crate::base::load(dir)?.map_or(0, |b| b.size());
    scan_from(dir, start, visit)
}

/// [`scan`] from record `start`: segments wholly before it are skipped (and listed as stale).
pub fn scan_from(dir: &Path, start: u64, visit: &mut dyn FnMut(Frame<'_>) -> Result<(), AuditError>) -> Result<Scanned, AuditError> {
    let mut segments = list(dir)?;
    let mut out = Scanned { start, records: start, ..Scanned::default() };
    while segments.len() > 1 && segments[1].0 <= start {
        out.stale.push(segments.remove(0).1);
    }
    let last = segments.len().saturating_sub(1);
    for (i, (first, path)) in segments.iter().enumerate() {
        if *first != out.records {
            return Err(AuditError::SegmentGap { segment: path.clone(), named: *first, expected: out.records });
        }
        let data = fs::read(path).map_err(AuditError::io(path))?;
        let mut at = 0usize;
        while at < data.len() {
            let index = out.records;
            let corrupt = |reason: String| AuditError::Corrupt { segment: path.clone(), offset: at as u64, index, reason };
            let rest = &data[at..];
            let torn = |reason| TornTail { segment: path.clone(), offset: at as u64, index, bytes: rest.len() as u64, reason };
            if rest.len() < FRAME_HEADER {
                if i == last {
                    out.torn = Some(torn("incomplete frame header"));
                    break;
                }
                return Err(corrupt(format!("{} stray bytes at the end of a segment", rest.len())));
            }
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
            if len > MAX_RECORD {
                return Err(corrupt(format!("frame length {len} exceeds the {MAX_RECORD}-byte limit")));
            }
            if rest.len() < FRAME_HEADER + len {
                if i == last {
                    out.torn = Some(torn("incomplete frame"));
                    break;
                }
                return Err(corrupt(format!("frame of {len} bytes runs past the end of the segment")));
            }
            let payload = &rest[FRAME_HEADER..FRAME_HEADER + len];
            if crc32fast::hash(payload) != crc {
                if i == last && rest.len() == FRAME_HEADER + len {
                    out.torn = Some(torn("checksum mismatch in the last frame"));
                    break;
                }
                return Err(corrupt("checksum mismatch".into()));
            }
            visit(Frame { index, segment: path, offset: at as u64, payload })?;
            out.records += 1;
            at += FRAME_HEADER + len;
        }
        out.segments.push((*first, path.clone(), at as u64));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_frames(dir: &Path, first: u64, payloads: &[&[u8]]) -> PathBuf {
        let mut buf = Vec::new();
        for p in payloads {
            frame_into(p, &mut buf);
        }
        let path = dir.join(file_name(first));
        fs::write(&path, buf).unwrap();
        path
    }

    fn count(dir: &Path) -> Result<Scanned, AuditError> {
        scan(dir, &mut |_| Ok(()))
    }

    #[test]
    fn torn_tail_only_at_the_end_of_the_last_segment() {
        let d = tempfile::tempdir().unwrap();
        let seg0 = write_frames(d.path(), 0, &[b"a", b"bb"]);
        let seg1 = write_frames(d.path(), 2, &[b"ccc", b"dddd"]);
        let s = count(d.path()).unwrap();
        assert_eq!((s.records, s.torn.is_none(), s.segments.len()), (4, true, 2));

        // Cut the last frame short: a torn tail at the start of record 3.
        let full = fs::read(&seg1).unwrap();
        fs::write(&seg1, &full[..full.len() - 2]).unwrap();
        let s = count(d.path()).unwrap();
        let torn = s.torn.unwrap();
        assert_eq!((s.records, torn.index, torn.offset), (3, 3, 11));

        // A checksum failure in the last frame is torn too; in any earlier frame it is not.
        let mut bad = full.clone();
        *bad.last_mut().unwrap() ^= 1;
        fs::write(&seg1, &bad).unwrap();
        assert!(count(d.path()).unwrap().torn.is_some());
        let mut bad = full.clone();
        bad[FRAME_HEADER] ^= 1;
        fs::write(&seg1, &bad).unwrap();
        match count(d.path()) {
            Err(AuditError::Corrupt { index: 2, offset: 0, segment, .. }) => assert_eq!(segment, seg1),
            other => panic!("{other:?}"),
        }

        // A short first segment is corruption, not a tail.
        fs::write(&seg1, &full).unwrap();
        let first = fs::read(&seg0).unwrap();
        fs::write(&seg0, &first[..first.len() - 1]).unwrap();
        assert!(matches!(count(d.path()), Err(AuditError::Corrupt { index: 1, .. })));
    }

    #[test]
    fn a_missing_segment_is_a_gap() {
        let d = tempfile::tempdir().unwrap();
        write_frames(d.path(), 0, &[b"a"]);
        write_frames(d.path(), 2, &[b"c"]);
        assert!(matches!(count(d.path()), Err(AuditError::SegmentGap { named: 2, expected: 1, .. })));
    }
}
