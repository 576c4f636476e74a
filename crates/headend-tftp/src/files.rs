//! The files behind a transfer: an admitted RRQ becomes a source (a file
//! beneath the root, or a template rendered for the client) and a WRQ a
//! sink (a temporary file beside its target in the write root), each with
//! its negotiated options in a ready state machine.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::admission::Shared;
use crate::core::machine::Machine;
use crate::core::netascii;
use crate::core::options;
use crate::core::packet::{ErrorCode, Mode, Request};
use crate::core::receive::{BlockSink, Receive};
use crate::core::transfer::{Abort, BlockSource, Transfer};
use crate::path;

/// Largest file served in netascii mode (it is translated in memory).
const MAX_NETASCII: u64 = 16 * 1024 * 1024;
/// Files up to this size are read into memory in one go when the request arrives.
pub(crate) const SMALL_FILE: u64 = 64 * 1024;

/// A file opened beneath the root, served with positional reads.
pub(crate) struct FileSource {
    pub(crate) file: File,
    pub(crate) len: u64,
}

impl BlockSource for FileSource {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, Abort> {
        let want = usize::try_from(self.len.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let mut done = 0;
        while done < want {
            match self
                .file
                .read_at(&mut buf[done..want], offset + done as u64)
            {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Abort::new(
                        ErrorCode::NotDefined,
                        format!("read error: {e}"),
                    ));
                }
            }
        }
        Ok(done)
    }
}

/// An upload written to a temporary file beside its target, made visible
/// only when complete and durable: renamed over the target when overwriting
/// is allowed, else hard-linked so it never replaces an existing file
/// ([`headend_util::rename_durable`], [`headend_util::link_durable`]).
pub(crate) struct FileSink {
    pub(crate) file: Option<File>,
    pub(crate) tmp: PathBuf,
    pub(crate) target: PathBuf,
    pub(crate) overwrite: bool,
    pub(crate) netascii: Option<netascii::Decoder>,
    pub(crate) scratch: Vec<u8>,
}

fn io_abort(e: &std::io::Error) -> Abort {
    Abort::new(ErrorCode::DiskFull, format!("cannot write upload: {e}"))
}

impl BlockSink for FileSink {
    fn write(&mut self, data: &[u8]) -> Result<(), Abort> {
        let Some(file) = self.file.as_mut() else {
            return Err(io_abort(&std::io::Error::other("upload already closed")));
        };
        match self.netascii.as_mut() {
            Some(dec) => {
                self.scratch.clear();
                dec.feed(data, &mut self.scratch);
                file.write_all(&self.scratch).map_err(|e| io_abort(&e))
            }
            None => file.write_all(data).map_err(|e| io_abort(&e)),
        }
    }

    fn finish(&mut self) -> Result<(), Abort> {
        let Some(mut file) = self.file.take() else {
            return Err(io_abort(&std::io::Error::other("upload already closed")));
        };
        if let Some(dec) = self.netascii.as_mut() {
            self.scratch.clear();
            dec.finish(&mut self.scratch);
            file.write_all(&self.scratch).map_err(|e| io_abort(&e))?;
        }
        // Both calls below fsync the file, then the folder.
        drop(file);
        let done = if self.overwrite {
            headend_util::rename_durable(&self.tmp, &self.target)
        } else {
            headend_util::link_durable(&self.tmp, &self.target)
        };
        done.map_err(|e| {
            let _ = std::fs::remove_file(&self.tmp);
            match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    Abort::new(ErrorCode::FileExists, "file already exists")
                }
                _ => io_abort(&e),
            }
        })
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Unfinished upload: leave nothing behind.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The state machine for an admitted request, with the name it resolved to
/// (relative to its root), or the ERROR to refuse it with.
pub(crate) fn prepare(
    shared: &Shared,
    req: &Request<'_>,
    write: bool,
    peer: SocketAddr,
    now: Instant,
) -> Result<(String, Machine), Abort> {
    if write {
        prepare_write(shared, req, peer, now)
    } else {
        prepare_read(shared, req, peer, now)
    }
}

fn prepare_read(
    shared: &Shared,
    req: &Request<'_>,
    peer: SocketAddr,
    now: Instant,
) -> Result<(String, Machine), Abort> {
    let cfg = &shared.config;
    let rel = path::normalize(
        req.filename,
        &shared.root,
        &shared.remaps,
        cfg.max_filename_len,
    )?;
    let source: Box<dyn BlockSource> =
        match shared
            .templates
            .resolve(&rel, peer.ip(), shared.lookup.as_ref())
        {
            Some(rendered) => {
                let bytes = rendered?;
                match req.mode {
                    Mode::Octet => Box::new(bytes),
                    Mode::Netascii => Box::new(netascii::encode(&bytes)),
                }
            }
            None => {
                if let Some(data) = shared.small_files.get(&shared.root_fd, &rel) {
                    match req.mode {
                        Mode::Octet => Box::new(data),
                        Mode::Netascii => Box::new(netascii::encode(&data)),
                    }
                } else {
                    let (file, meta) =
                        path::open_beneath_meta(&shared.root_fd, &shared.root, &rel)?;
                    let len = meta.len();
                    match req.mode {
                        // Small files (modem configs) are read at once, closed,
                        // and kept for the next request.
                        Mode::Octet if len <= SMALL_FILE => {
                            let mut data = vec![0u8; len as usize];
                            let n = FileSource { file, len }.read_at(0, &mut data)?;
                            data.truncate(n);
                            let data: Arc<[u8]> = data.into();
                            shared.small_files.put(&rel, &meta, &data);
                            Box::new(data)
                        }
                        Mode::Octet => Box::new(FileSource { file, len }),
                        Mode::Netascii => {
                            if len > MAX_NETASCII {
                                return Err(Abort::new(
                                    ErrorCode::NotDefined,
                                    "file too large for netascii; use octet mode",
                                ));
                            }
                            let mut raw = vec![0u8; len as usize];
                            let mut src = FileSource { file, len };
                            let n = src.read_at(0, &mut raw)?;
                            raw.truncate(n);
                            Box::new(netascii::encode(&raw))
                        }
                    }
                }
            }
        };
    let negotiated = options::negotiate(&req.options, shared.limits, Some(source.size()), true);
    let t = Transfer::new(peer, source, &negotiated, cfg.max_retries, now);
    Ok((rel, Machine::Read(t)))
}

fn prepare_write(
    shared: &Shared,
    req: &Request<'_>,
    peer: SocketAddr,
    now: Instant,
) -> Result<(String, Machine), Abort> {
    let cfg = &shared.config;
    let Some(write_root) = &shared.write_root else {
        return Err(Abort::new(
            ErrorCode::AccessViolation,
            "uploads are disabled on this server",
        ));
    };
    let rel = path::normalize(
        req.filename,
        write_root,
        &shared.remaps,
        cfg.max_filename_len,
    )?;
    let (dir, file_name) = path::upload_target(write_root, &rel)?;
    let target = dir.join(&file_name);
    if !cfg.allow_overwrite && std::fs::symlink_metadata(&target).is_ok() {
        return Err(Abort::new(ErrorCode::FileExists, "file already exists"));
    }
    if std::fs::symlink_metadata(&target).is_ok_and(|m| !m.is_file()) {
        return Err(Abort::new(ErrorCode::AccessViolation, "not a regular file"));
    }
    let negotiated = options::negotiate(&req.options, shared.limits, None, false);
    if negotiated
        .announced_size
        .is_some_and(|s| s > cfg.max_upload_bytes)
    {
        return Err(Abort::new(
            ErrorCode::DiskFull,
            format!("upload exceeds the {} byte limit", cfg.max_upload_bytes),
        ));
    }
    static UPLOADS: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{file_name}.upload-{}-{}",
        std::process::id(),
        UPLOADS.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| {
            Abort::new(
                ErrorCode::AccessViolation,
                format!("cannot create upload: {e}"),
            )
        })?;
    let sink = FileSink {
        file: Some(file),
        tmp,
        target,
        overwrite: cfg.allow_overwrite,
        netascii: (req.mode == Mode::Netascii).then(netascii::Decoder::default),
        scratch: Vec::new(),
    };
    let r = Receive::new(
        peer,
        Box::new(sink),
        &negotiated,
        cfg.max_upload_bytes,
        cfg.max_retries,
        now,
    );
    Ok((rel, Machine::Write(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(dir: &std::path::Path, overwrite: bool) -> FileSink {
        let tmp = dir.join(".up.upload-test");
        FileSink {
            file: Some(File::create(&tmp).unwrap()),
            tmp,
            target: dir.join("up"),
            overwrite,
            netascii: None,
            scratch: Vec::new(),
        }
    }

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_finished_upload_appears_under_its_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path(), false);
        s.write(b"hello").unwrap();
        s.finish().unwrap();
        assert_eq!(std::fs::read(dir.path().join("up")).unwrap(), b"hello");
        assert_eq!(names(dir.path()), ["up"]);
    }

    #[test]
    fn without_overwrite_an_existing_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("up"), b"old").unwrap();
        let mut s = sink(dir.path(), false);
        s.write(b"new").unwrap();
        assert_eq!(s.finish().unwrap_err().code, ErrorCode::FileExists);
        assert_eq!(std::fs::read(dir.path().join("up")).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["up"]);
    }

    #[test]
    fn with_overwrite_the_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("up"), b"old").unwrap();
        let mut s = sink(dir.path(), true);
        s.write(b"new").unwrap();
        s.finish().unwrap();
        assert_eq!(std::fs::read(dir.path().join("up")).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["up"]);
    }

    #[test]
    fn an_unfinished_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path(), false);
        s.write(b"part").unwrap();
        drop(s);
        assert!(names(dir.path()).is_empty());
    }
}
