//! Durable file writes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Creates `dir` (and missing parents) so that only its owner can enter
/// it (0700) whatever the umask; an existing folder is left as it is.
/// The state directory holds password hashes, sessions and private keys.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Creates an empty `path` with mode 0600 whatever the umask, if it does
/// not exist yet (an existing file is left as it is). SQLite gives its WAL
/// and shared-memory files the mode of the database file, so creating the
/// database this way keeps all three private.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f.set_permissions(std::fs::Permissions::from_mode(0o600)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Entries of `dir` (and `dir` itself) that group or others may read:
/// (path, mode). Used to warn at start about a state directory made
/// under a permissive umask by an older version.
pub fn exposed_entries(dir: &Path) -> io::Result<Vec<(std::path::PathBuf, u32)>> {
    let mut found = Vec::new();
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        found.push((dir.to_path_buf(), mode));
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_file() && mode & 0o044 != 0 {
            found.push((entry.path(), mode));
        }
    }
    Ok(found)
}

/// Replaces `path` with `bytes` so that a crash at any moment leaves either
/// the old file or the new one, never an empty or partial one: the bytes go
/// to a temporary file beside the target (created with `mode`, whatever the
/// umask), which is fsynced, renamed over the target, and then the folder is
/// fsynced so the rename itself is durable (POSIX rename(2) and fsync(2)).
///
/// The temporary file is `.NAME.tmp` in the same folder; a stale one left by
/// a crash is simply overwritten by the next write. The folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // An existing temporary file keeps its old mode: set it explicitly.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes a file that was written in full beside its target durable under
/// the target's name: fsyncs `tmp`, renames it over `target` and fsyncs the
/// folder, for writers that stream into the temporary file themselves (a
/// TFTP upload) instead of handing [`write_atomic`] the bytes. Both paths
/// must be in the same folder.
pub fn rename_durable(tmp: &Path, target: &Path) -> io::Result<()> {
    File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, target)?;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Like [`rename_durable`], but never replaces an existing file: fsyncs
/// `tmp`, hard-links it as `target` (link(2) fails with
/// [`AlreadyExists`](io::ErrorKind::AlreadyExists) when the target exists,
/// even if it appeared an instant before), removes `tmp` and fsyncs the
/// folder. On an error `tmp` is left for the caller to remove. Both paths
/// must be in the same folder.
pub fn link_durable(tmp: &Path, target: &Path) -> io::Result<()> {
    File::open(tmp)?.sync_all()?;
    std::fs::hard_link(tmp, target)?;
    std::fs::remove_file(tmp)?;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Reads a secret (a TSIG key, a password, a key-encryption key) from a
/// file only its owner may read: a file with any group or other permission
/// bit is refused, so a secret is never taken from a file others can read.
/// The trailing newline is trimmed.
pub fn read_secret(path: &Path) -> io::Result<String> {
    let file = File::open(path)?;
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} holds a secret but is readable by group or others (mode {mode:04o}): chmod 600 it",
                path.display()
            ),
        ));
    }
    let mut text = String::new();
    io::Read::read_to_string(&mut &file, &mut text)?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// A file or folder name for a zone (or any operator-given name): lower case,
/// without the trailing dot, every character other than ASCII letters,
/// digits, `.` and `-` replaced by `_`, so it can never climb out of the
/// folder it is joined to. The root zone (`.`, empty once the dot is
/// trimmed) is `_root`, and a name of dots only has them replaced too.
pub fn safe_file_name(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return "_root".to_owned();
    }
    if name.chars().all(|c| c == '.') {
        return name.replace('.', "_");
    }
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn private_dir_and_file_ignore_the_umask() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("a/state");
        create_private_dir(&state).unwrap();
        let db = state.join("headend.db");
        create_private_file(&db).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert!(exposed_entries(&state).unwrap().is_empty());
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(exposed_entries(&state).unwrap(), [(db, 0o644)]);
    }

    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn replaces_the_file_with_the_mode_asked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key.pk8");
        write_atomic(&f, b"old", 0o644).unwrap();
        write_atomic(&f, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.pk8")]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("missing-folder").join("x");
        assert!(write_atomic(&f, b"x", 0o600).is_err());
        let f = dir.path().join("x");
        write_atomic(&f, b"old", 0o600).unwrap();
        // A folder where the temporary file should go makes the write fail.
        std::fs::create_dir(dir.path().join(".x.tmp")).unwrap();
        assert!(write_atomic(&f, b"new", 0o600).is_err());
        assert_eq!(std::fs::read(&f).unwrap(), b"old");
    }

    #[test]
    fn rename_durable_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, target) = (dir.path().join(".up.tmp"), dir.path().join("up"));
        std::fs::write(&target, b"old").unwrap();
        std::fs::write(&tmp, b"new").unwrap();
        rename_durable(&tmp, &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert!(!tmp.exists());
    }

    #[test]
    fn link_durable_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, target) = (dir.path().join(".up.tmp"), dir.path().join("up"));
        std::fs::write(&tmp, b"first").unwrap();
        link_durable(&tmp, &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        assert!(!tmp.exists(), "the temporary name is gone");
        std::fs::write(&tmp, b"second").unwrap();
        let e = link_durable(&tmp, &target).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        assert!(tmp.exists(), "left for the caller");
    }

    #[test]
    fn names_cannot_climb_out() {
        assert_eq!(safe_file_name("Example.TEST."), "example.test");
        assert_eq!(safe_file_name("a/b"), "a_b");
        assert_eq!(safe_file_name(".."), "_root");
        assert_eq!(safe_file_name("."), "_root");
        assert_eq!(safe_file_name("..a"), "..a");
        assert_eq!(safe_file_name(".../"), "..._");
        assert_eq!(safe_file_name("x y\\z"), "x_y_z");
    }
}
