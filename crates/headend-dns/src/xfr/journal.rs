//! The IXFR journal (RFC 1995): the differences between successive serials
//! of a zone, bounded in size, kept in memory and in the state directory.
//!
//! File format (all integers big-endian): the magic `HEJ1`, then per
//! difference: old SOA, new SOA, the count of removed records, the removed
//! records, the count of added records, the added records; each record as a
//! u32 length and its uncompressed wire form.
//!
//! Beside it, for zones that have secondaries: `ZONE.served`, the version
//! last served ([`image`]), from which the difference to the version loaded
//! at the next start is computed, and `ZONE.notified`, the serial last
//! announced by NOTIFY.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use headend_util::{safe_file_name, write_atomic};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::DnsError;
use crate::zone::diff::wire;
use crate::zone::{Diff, Zone, image};

/// Most differences kept per zone.
pub(crate) const MAX_DIFFS: usize = 100;

/// Most bytes of differences kept per zone (wire form).
pub(crate) const MAX_BYTES: usize = 32 << 20;

const MAGIC: &[u8; 4] = b"HEJ1";

/// The bounded list of differences of one zone, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal {
    diffs: VecDeque<Diff>,
    bytes: usize,
}

impl Journal {
    /// Appends a difference; starts over when it does not continue the last
    /// one; drops the oldest beyond [`MAX_DIFFS`] and [`MAX_BYTES`].
    pub(crate) fn push(&mut self, diff: Diff) {
        if self
            .diffs
            .back()
            .is_some_and(|last| last.new_serial() != diff.old_serial())
        {
            self.diffs.clear();
            self.bytes = 0;
        }
        self.bytes += diff.bytes;
        self.diffs.push_back(diff);
        while self.diffs.len() > MAX_DIFFS || (self.bytes > MAX_BYTES && self.diffs.len() > 1) {
            if let Some(old) = self.diffs.pop_front() {
                self.bytes = self.bytes.saturating_sub(old.bytes);
            }
        }
        if self.bytes > MAX_BYTES {
            self.diffs.clear();
            self.bytes = 0;
        }
    }

    /// The chain of differences from `serial` to `current`, if the journal
    /// holds all of it (RFC 1995 §4; otherwise the caller falls back to AXFR).
    pub(crate) fn since(&self, serial: u32, current: u32) -> Option<Vec<Diff>> {
        let start = self.diffs.iter().position(|d| d.old_serial() == serial)?;
        let chain: Vec<Diff> = self.diffs.iter().skip(start).cloned().collect();
        (chain.last()?.new_serial() == current).then_some(chain)
    }

    /// The serial of the newest version recorded.
    pub(crate) fn last_serial(&self) -> Option<u32> {
        self.diffs.back().map(Diff::new_serial)
    }

    /// Number of differences held.
    pub(crate) fn len(&self) -> usize {
        self.diffs.len()
    }

    /// The journal in its file format.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes + 64);
        out.extend_from_slice(MAGIC);
        let put = |out: &mut Vec<u8>, r: &Record| {
            let w = wire(r).unwrap_or_default();
            out.extend_from_slice(&u32::try_from(w.len()).unwrap_or(0).to_be_bytes());
            out.extend_from_slice(&w);
        };
        for d in &self.diffs {
            put(&mut out, &d.old_soa);
            put(&mut out, &d.new_soa);
            for list in [&d.removed, &d.added] {
                out.extend_from_slice(&u32::try_from(list.len()).unwrap_or(0).to_be_bytes());
                for r in list {
                    put(&mut out, r);
                }
            }
        }
        out
    }

    /// Reads a journal file's contents; `None` when it is damaged.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let mut journal = Self::default();
        fn take_u32(rest: &mut &[u8]) -> Option<u32> {
            let (head, tail) = rest.split_first_chunk::<4>()?;
            *rest = tail;
            Some(u32::from_be_bytes(*head))
        }
        fn take_record(rest: &mut &[u8]) -> Option<(Record, usize)> {
            let len = usize::try_from(take_u32(rest)?).ok()?;
            let w = rest.get(..len)?;
            *rest = rest.get(len..)?;
            let mut dec = BinDecoder::new(w);
            Some((Record::read(&mut dec).ok()?, len))
        }
        while !rest.is_empty() {
            let (old_soa, _) = take_record(&mut rest)?;
            let (new_soa, _) = take_record(&mut rest)?;
            let mut bytes = 0;
            let mut lists = [Vec::new(), Vec::new()];
            for list in &mut lists {
                let n = take_u32(&mut rest)?;
                for _ in 0..n {
                    let (r, len) = take_record(&mut rest)?;
                    bytes += len;
                    list.push(r);
                }
            }
            let [removed, added] = lists;
            journal.push(Diff {
                old_soa,
                new_soa,
                removed,
                added,
                bytes,
            });
        }
        Some(journal)
    }
}

/// Where a zone's journal lives under the state directory:
/// `STATE_DIR/journal/ZONE.ixfr`, the zone's name made safe as a file name.
pub(crate) fn path(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir
        .join("journal")
        .join(format!("{}.ixfr", safe_file_name(origin)))
}

/// Loads a zone's journal; a missing or damaged file gives an empty journal.
pub(crate) fn load(file: &Path) -> Journal {
    match std::fs::read(file) {
        Ok(bytes) => Journal::decode(&bytes).unwrap_or_else(|| {
            tracing::warn!("{}: damaged IXFR journal ignored", file.display());
            Journal::default()
        }),
        Err(_) => Journal::default(),
    }
}

/// Writes a journal so that a crash leaves the old one or the new one,
/// never a partial one ([`write_atomic`]).
pub(crate) fn store(file: &Path, journal: &Journal) -> Result<(), DnsError> {
    let err = |e: std::io::Error| DnsError::State {
        file: file.to_owned(),
        reason: format!("cannot write the IXFR journal: {e}"),
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    write_atomic(file, &journal.encode(), 0o644).map_err(err)
}

/// First bytes of the image of the version last served.
const SERVED_MAGIC: &[u8] = b"headend served zone v1\n";

fn served_path(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir
        .join("journal")
        .join(format!("{}.served", safe_file_name(origin)))
}

fn notified_path(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir
        .join("journal")
        .join(format!("{}.notified", safe_file_name(origin)))
}

/// Keeps `zone` as the version last served (`STATE_DIR/journal/ZONE.served`),
/// to compute the difference to the version loaded at the next start.
/// Failures are logged: the next start then needs a full transfer.
pub(crate) fn store_served(state_dir: &Path, zone: &Zone) {
    let origin = zone.origin().to_string();
    let file = served_path(state_dir, &origin);
    let result = image::encode(zone, SERVED_MAGIC).and_then(|(bytes, _)| {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        write_atomic(&file, &bytes, 0o644).map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        tracing::warn!(
            zone = origin,
            "{}: cannot keep the served zone: {e}",
            file.display()
        );
    }
}

/// The version last served before a restart, if kept and readable.
pub(crate) fn load_served(state_dir: &Path, zone: &Zone) -> Option<Zone> {
    let file = served_path(state_dir, &zone.origin().to_string());
    let bytes = std::fs::read(&file).ok()?;
    match image::decode(&bytes, SERVED_MAGIC, zone.origin(), zone.file(), None) {
        Ok(prev) => Some(prev),
        Err(e) => {
            tracing::warn!("{}: ignored: {e}", file.display());
            None
        }
    }
}

/// The serial last announced by NOTIFY (`STATE_DIR/journal/ZONE.notified`).
pub(crate) fn load_notified(state_dir: &Path, origin: &str) -> Option<u32> {
    std::fs::read_to_string(notified_path(state_dir, origin))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Records the serial just announced by NOTIFY.
pub(crate) fn store_notified(state_dir: &Path, origin: &str, serial: u32) {
    let file = notified_path(state_dir, origin);
    let result = file
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| write_atomic(&file, format!("{serial}\n").as_bytes(), 0o644));
    if let Err(e) = result {
        tracing::warn!(
            zone = origin,
            "{}: cannot record the serial notified: {e}",
            file.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::diff::test_zone as zone;

    #[test]
    fn chain_is_found_from_any_recorded_serial_to_the_current_one() {
        let z1 = zone(1, "a A 192.0.2.1\n");
        let z2 = zone(2, "a A 192.0.2.2\n");
        let z3 = zone(3, "a A 192.0.2.3\n");
        let mut j = Journal::default();
        j.push(Diff::between(&z1, &z2));
        j.push(Diff::between(&z2, &z3));
        assert_eq!(j.since(1, 3).unwrap().len(), 2);
        assert_eq!(j.since(2, 3).unwrap().len(), 1);
        assert!(j.since(0, 3).is_none(), "unknown serial falls back to AXFR");
        assert!(
            j.since(1, 4).is_none(),
            "journal behind the zone falls back to AXFR"
        );
    }

    #[test]
    fn a_gap_starts_the_journal_over() {
        let mut j = Journal::default();
        j.push(Diff::between(&zone(1, ""), &zone(2, "")));
        j.push(Diff::between(&zone(5, ""), &zone(6, "")));
        assert_eq!(j.len(), 1);
        assert!(j.since(1, 6).is_none());
    }

    #[test]
    fn the_journal_is_bounded() {
        let mut j = Journal::default();
        for s in 0..(MAX_DIFFS as u32 + 20) {
            j.push(Diff::between(&zone(s, ""), &zone(s + 1, "x A 192.0.2.9\n")));
        }
        assert_eq!(j.len(), MAX_DIFFS);
        assert!(j.since(0, MAX_DIFFS as u32 + 20).is_none());
    }

    #[test]
    fn file_round_trip_keeps_every_difference() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "j.test.");
        let mut j = Journal::default();
        j.push(Diff::between(
            &zone(1, "a A 192.0.2.1\n"),
            &zone(2, "a TXT \"x\"\n"),
        ));
        j.push(Diff::between(&zone(2, "a TXT \"x\"\n"), &zone(3, "")));
        store(&file, &j).unwrap();
        let back = load(&file);
        assert_eq!(back.len(), 2);
        let chain = back.since(1, 3).unwrap();
        assert_eq!(chain[0].added.len(), 1);
        assert_eq!(chain[0].removed.len(), 1);
        assert_eq!(chain[1].removed.len(), 1);
    }

    #[test]
    fn the_journal_file_keeps_its_name() {
        let state = Path::new("/var/lib/headend");
        assert_eq!(
            path(state, "J.Test."),
            state.join("journal").join("j.test.ixfr")
        );
        assert_eq!(
            path(state, "a b/c.test"),
            state.join("journal").join("a_b_c.test.ixfr")
        );
    }

    #[test]
    fn damaged_file_gives_an_empty_journal() {
        assert!(Journal::decode(b"HEJ1\x00\x00\x00\x09abc").is_none());
        assert!(Journal::decode(b"nope").is_none());
    }
}
