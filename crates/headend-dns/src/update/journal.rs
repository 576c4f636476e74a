//! The update journal: every accepted UPDATE's changes, appended and
//! synced before its answer leaves, replayed on top of the zone file at
//! every load until `headend dns flush` writes them into the file.
//!
//! File `STATE_DIR/update/ZONE.log` (integers big-endian): the magic
//! `HEU1`, then per UPDATE: the payload length (u32), its FNV-1a checksum
//! (u32), and the payload: the serial after the update (u32), the count of
//! update-section records (u32), each as a u32 length and its wire form
//! (class IN adds, ANY and NONE delete: RFC 2136 §2.5). An entry cut short
//! by a crash was never answered; it and anything after it is dropped
//! when the file is opened.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use headend_util::{safe_file_name, write_atomic};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

use crate::DnsError;

const MAGIC: &[u8; 4] = b"HEU1";

/// One journaled UPDATE.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The zone's (unsigned) serial after it.
    pub(crate) serial: u32,
    /// Its update section.
    pub(crate) updates: Vec<Record>,
}

/// Where a zone's update journal lives.
pub(crate) fn path(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir
        .join("update")
        .join(format!("{}.log", safe_file_name(origin)))
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// An entry in its file form.
pub(crate) fn encode(entry: &Entry) -> Option<Vec<u8>> {
    let mut payload = Vec::with_capacity(64 * entry.updates.len() + 8);
    payload.extend_from_slice(&entry.serial.to_be_bytes());
    payload.extend_from_slice(&u32::try_from(entry.updates.len()).ok()?.to_be_bytes());
    for r in &entry.updates {
        let mut w = Vec::with_capacity(64);
        let mut enc = BinEncoder::new(&mut w);
        r.emit(&mut enc).ok()?;
        payload.extend_from_slice(&u32::try_from(w.len()).ok()?.to_be_bytes());
        payload.extend_from_slice(&w);
    }
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&u32::try_from(payload.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&fnv1a(&payload).to_be_bytes());
    out.extend_from_slice(&payload);
    Some(out)
}

fn decode_payload(mut p: &[u8]) -> Option<Entry> {
    fn take_u32(p: &mut &[u8]) -> Option<u32> {
        let (h, t) = p.split_first_chunk::<4>()?;
        *p = t;
        Some(u32::from_be_bytes(*h))
    }
    let serial = take_u32(&mut p)?;
    let n = take_u32(&mut p)?;
    let mut updates = Vec::new();
    for _ in 0..n {
        let len = usize::try_from(take_u32(&mut p)?).ok()?;
        let w = p.get(..len)?;
        p = p.get(len..)?;
        let mut dec = BinDecoder::new(w);
        updates.push(Record::read(&mut dec).ok()?);
    }
    p.is_empty().then_some(Entry { serial, updates })
}

/// Reads a journal's bytes: the entries and the length of the whole
/// (undamaged) prefix that holds them. `None`: not a journal.
pub(crate) fn decode(bytes: &[u8]) -> Option<(Vec<Entry>, usize)> {
    let mut rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let mut entries = Vec::new();
    let mut good = MAGIC.len();
    while let Some((head, tail)) = rest.split_first_chunk::<8>() {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let sum = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let Some(payload) = tail.get(..len) else {
            break;
        };
        if fnv1a(payload) != sum {
            break;
        }
        let Some(entry) = decode_payload(payload) else {
            break;
        };
        entries.push(entry);
        good += 8 + len;
        rest = &tail[len..];
    }
    Some((entries, good))
}

/// Reads a zone's journal (empty when there is none).
pub(crate) fn read(file: &Path) -> Result<Vec<Entry>, DnsError> {
    match std::fs::read(file) {
        Ok(bytes) => match decode(&bytes) {
            Some((entries, good)) => {
                if good < bytes.len() {
                    tracing::warn!(
                        "{}: {} bytes after the last whole update dropped (cut short by a crash; never acknowledged)",
                        file.display(),
                        bytes.len() - good
                    );
                }
                Ok(entries)
            }
            None => Err(DnsError::State {
                file: file.to_owned(),
                reason: "not an update journal (bad magic); move it away to start afresh".into(),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(DnsError::State {
            file: file.to_owned(),
            reason: format!("cannot read the update journal: {e}"),
        }),
    }
}

/// A zone's journal open for appending.
#[derive(Debug)]
pub(crate) struct Appender {
    file: File,
    path: PathBuf,
}

fn state_err(path: &Path, e: &std::io::Error) -> DnsError {
    DnsError::State {
        file: path.to_owned(),
        reason: format!("cannot write the update journal: {e}"),
    }
}

impl Appender {
    /// Opens (creating durably, or cutting a damaged tail off) a journal.
    pub(crate) fn open(path: &Path) -> Result<Self, DnsError> {
        let err = |e: std::io::Error| state_err(path, &e);
        match std::fs::read(path) {
            Ok(bytes) => {
                let good = decode(&bytes)
                    .map(|(_, good)| good)
                    .ok_or_else(|| DnsError::State {
                        file: path.to_owned(),
                        reason: "not an update journal (bad magic)".into(),
                    })?;
                if good < bytes.len() {
                    let f = OpenOptions::new().write(true).open(path).map_err(err)?;
                    f.set_len(good as u64).map_err(err)?;
                    f.sync_all().map_err(err)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                write_atomic(path, MAGIC, 0o600).map_err(err)?;
            }
            Err(e) => return Err(err(e)),
        }
        let file = OpenOptions::new().append(true).open(path).map_err(err)?;
        Ok(Self {
            file,
            path: path.to_owned(),
        })
    }

    /// Appends entries without syncing.
    pub(crate) fn append(&mut self, entries: &[Entry]) -> Result<(), DnsError> {
        let mut bytes = Vec::new();
        for e in entries {
            bytes.extend(encode(e).ok_or_else(|| DnsError::State {
                file: self.path.clone(),
                reason: "an update could not be encoded".into(),
            })?);
        }
        self.file
            .write_all(&bytes)
            .map_err(|e| state_err(&self.path, &e))
    }

    /// Makes what was appended durable (fdatasync).
    pub(crate) fn sync(&self) -> Result<(), DnsError> {
        self.file.sync_data().map_err(|e| state_err(&self.path, &e))
    }
}

/// Empties a zone's journal (after its changes reached the zone file).
pub(crate) fn clear(path: &Path) -> Result<(), DnsError> {
    if !path.exists() {
        return Ok(());
    }
    write_atomic(path, MAGIC, 0o600).map_err(|e| state_err(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

    fn entry(serial: u32) -> Entry {
        let mut del = Record::update0(
            Name::from_ascii("h.example.test.").unwrap(),
            0,
            RecordType::AAAA,
        );
        del.dns_class = DNSClass::ANY;
        Entry {
            serial,
            updates: vec![
                Record::from_rdata(
                    Name::from_ascii("h.example.test.").unwrap(),
                    300,
                    RData::A(A::new(192, 0, 2, 9)),
                ),
                del,
            ],
        }
    }

    #[test]
    fn entries_survive_a_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "example.test.");
        let mut a = Appender::open(&p).unwrap();
        a.append(&[entry(5), entry(6)]).unwrap();
        a.sync().unwrap();
        drop(a);
        // A crash in the middle of the third entry's write.
        let third = encode(&entry(7)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&third[..third.len() - 3]).unwrap();
        drop(f);
        assert_eq!(read(&p).unwrap(), vec![entry(5), entry(6)]);
        let mut a = Appender::open(&p).unwrap();
        a.append(&[entry(8)]).unwrap();
        a.sync().unwrap();
        assert_eq!(read(&p).unwrap(), vec![entry(5), entry(6), entry(8)]);
        clear(&p).unwrap();
        assert!(read(&p).unwrap().is_empty());
    }

    #[test]
    fn a_flipped_byte_ends_the_journal_there() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend(encode(&entry(1)).unwrap());
        let keep = bytes.len();
        bytes.extend(encode(&entry(2)).unwrap());
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        let (entries, good) = decode(&bytes).unwrap();
        assert_eq!(entries, vec![entry(1)]);
        assert_eq!(good, keep);
        assert!(decode(b"nope").is_none());
    }
}
