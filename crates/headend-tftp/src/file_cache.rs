//! Small files read before, kept in memory for the next requests (see
//! [`SmallFiles`]).

use std::fs::File;
use std::sync::Arc;

/// Small files read before, kept in memory by name (beneath the root) with
/// the identity of the file they were read from: device, inode, size and
/// change times. A request first looks its file up with one `stat`; only
/// when that file is the one kept (same identity) are the kept bytes served,
/// so an edit, a replacement, a rename over it, a removal or a permission
/// change is seen by the next request, as without the cache. The cache saves
/// the open, read and close of each request's file (a tenth of the server's
/// CPU on small transfers).
///
/// A file written within [`SETTLED`] of being read is not kept: a second
/// write in the same clock tick could leave its times unchanged.
#[derive(Default)]
pub(crate) struct SmallFiles {
    kept: std::sync::Mutex<SmallFilesInner>,
}

#[derive(Default)]
struct SmallFilesInner {
    files: std::collections::HashMap<String, (FileId, Arc<[u8]>)>,
    bytes: usize,
}

/// Bytes kept at most (files are at most [`SMALL_FILE`](crate::files::SMALL_FILE) each).
const CACHE_BYTES: usize = 64 << 20;
/// Files kept at most.
const CACHE_FILES: usize = 65_536;
/// How long a file must have been unchanged to be kept.
const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    fn of_stat(st: &nix::sys::stat::FileStat) -> Self {
        Self {
            dev: st.st_dev,
            ino: st.st_ino,
            len: u64::try_from(st.st_size).unwrap_or(u64::MAX),
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }

    /// Whether both change times lie at least [`SETTLED`] before `now`
    /// (seconds since the epoch).
    fn settled(&self, now: i64) -> bool {
        let settled = i64::try_from(SETTLED.as_secs()).unwrap_or(i64::MAX);
        self.mtime.0.saturating_add(settled) < now && self.ctime.0.saturating_add(settled) < now
    }
}

impl SmallFiles {
    /// The kept bytes of `rel` when the file there is still the one they
    /// were read from.
    pub(crate) fn get(&self, root: &File, rel: &str) -> Option<Arc<[u8]>> {
        let (id, data) = {
            let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            kept.files.get(rel).cloned()?
        };
        let st = nix::sys::stat::fstatat(root, rel, nix::fcntl::AtFlags::empty()).ok()?;
        let regular = st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG;
        (regular && FileId::of_stat(&st) == id).then_some(data)
    }

    /// Keeps the bytes read from `rel` (whose file was `meta`).
    pub(crate) fn put(&self, rel: &str, meta: &std::fs::Metadata, data: &Arc<[u8]>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.put_at(rel, meta, data, now);
    }

    /// [`put`](Self::put) at `now` (seconds since the epoch).
    fn put_at(&self, rel: &str, meta: &std::fs::Metadata, data: &Arc<[u8]>, now: i64) {
        let id = FileId::of(meta);
        if id.len != data.len() as u64 || !id.settled(now) {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        // Full: make room by letting some other files go (any: the kept set
        // stays mostly stable, so a working set larger than the cache still
        // gets hits instead of being cleared over and over).
        while kept.bytes + data.len() > CACHE_BYTES || kept.files.len() >= CACHE_FILES {
            let Some(victim) = kept.files.keys().next().cloned() else {
                break;
            };
            if let Some((_, old)) = kept.files.remove(&victim) {
                kept.bytes -= old.len();
            }
        }
        if let Some((_, old)) = kept.files.insert(rel.to_owned(), (id, Arc::clone(data))) {
            kept.bytes -= old.len();
        }
        kept.bytes += data.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::SMALL_FILE;

    fn cached(dir: &std::path::Path, name: &str, at: i64) -> (SmallFiles, File) {
        let root = File::open(dir).unwrap();
        let cache = SmallFiles::default();
        let meta = std::fs::metadata(dir.join(name)).unwrap();
        let data: Arc<[u8]> = std::fs::read(dir.join(name)).unwrap().into();
        cache.put_at(name, &meta, &data, at);
        (cache, root)
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[test]
    fn a_kept_file_is_served_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.cfg"), b"first").unwrap();
        // Kept with a modification time a minute back, so that the rewrite
        // below gives it another one whatever the clock's granularity.
        let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        File::options()
            .write(true)
            .open(dir.path().join("m.cfg"))
            .and_then(|f| f.set_modified(minute_ago))
            .unwrap();
        let (cache, root) = cached(dir.path(), "m.cfg", now() + 10);
        assert_eq!(cache.get(&root, "m.cfg").as_deref(), Some(&b"first"[..]));
        // Same length, new bytes: the file's times change, the kept copy goes.
        std::fs::write(dir.path().join("m.cfg"), b"other").unwrap();
        assert_eq!(cache.get(&root, "m.cfg"), None);
        // A file renamed over it is another inode.
        let (cache, root) = cached(dir.path(), "m.cfg", now() + 10);
        std::fs::write(dir.path().join("new"), b"other").unwrap();
        std::fs::rename(dir.path().join("new"), dir.path().join("m.cfg")).unwrap();
        assert_eq!(cache.get(&root, "m.cfg"), None);
        std::fs::remove_file(dir.path().join("m.cfg")).unwrap();
        assert_eq!(cache.get(&root, "m.cfg"), None);
    }

    #[test]
    fn a_full_cache_lets_other_files_go_and_keeps_its_byte_bound() {
        let dir = tempfile::tempdir().unwrap();
        let root = File::open(dir.path()).unwrap();
        let cache = SmallFiles::default();
        let big = vec![7u8; SMALL_FILE as usize];
        let count = CACHE_BYTES / big.len() + 3;
        for i in 0..count {
            let name = format!("f{i}");
            std::fs::write(dir.path().join(&name), &big).unwrap();
            let meta = std::fs::metadata(dir.path().join(&name)).unwrap();
            cache.put_at(&name, &meta, &Arc::from(big.as_slice()), now() + 10);
        }
        let kept = cache.kept.lock().unwrap();
        assert!(kept.bytes <= CACHE_BYTES);
        assert_eq!(kept.files.len(), CACHE_BYTES / big.len());
        drop(kept);
        let last = format!("f{}", count - 1);
        assert!(cache.get(&root, &last).is_some(), "the newest file is kept");
    }

    #[test]
    fn a_file_changed_just_now_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.cfg"), b"fresh").unwrap();
        let (cache, root) = cached(dir.path(), "m.cfg", now());
        assert_eq!(cache.get(&root, "m.cfg"), None);
    }
}
