//! Request names to files: a root nothing escapes.
//!
//! [`normalize`] is pure: it maps `\` to `/`, applies the remap rules, strips
//! the root prefix from absolute names, and refuses NUL, `..`, over-long names
//! and components. [`open_beneath`] then opens the result with openat2(2)
//! `RESOLVE_BENEATH` (symlinks may not leave the root), falling back to
//! canonicalise-and-check on kernels without openat2, and serves only regular
//! files (never devices, FIFOs or folders; FIFOs are opened non-blocking).

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;
use regex::Regex;

use crate::TftpError;
use crate::config::RemapRule;
use crate::core::packet::ErrorCode;
use crate::core::transfer::Abort;

/// Longest path component (NAME_MAX).
const MAX_COMPONENT: usize = 255;

/// A compiled remap rule.
#[derive(Debug, Clone)]
pub enum Remap {
    /// Replace a literal prefix.
    Prefix {
        /// The prefix.
        from: String,
        /// Its replacement.
        to: String,
    },
    /// Replace the first regex match.
    Regex {
        /// The expression.
        re: Regex,
        /// The replacement (`$1` refers to groups).
        to: String,
    },
}

impl Remap {
    /// Compiles the config rules; `index` names the rule in errors.
    pub fn compile(rules: &[RemapRule]) -> Result<Vec<Self>, TftpError> {
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| match (&r.prefix, &r.regex) {
                (Some(p), None) => Ok(Self::Prefix {
                    from: p.clone(),
                    to: r.replace.clone(),
                }),
                (None, Some(re)) => Regex::new(re)
                    .map(|re| Self::Regex {
                        re,
                        to: r.replace.clone(),
                    })
                    .map_err(|e| TftpError::Config {
                        key: format!("remap[{i}].regex"),
                        reason: format!("invalid regular expression: {e}"),
                    }),
                _ => Err(TftpError::Config {
                    key: format!("remap[{i}]"),
                    reason: "give exactly one of `prefix` or `regex`".into(),
                }),
            })
            .collect()
    }

    fn apply(&self, name: &str) -> String {
        match self {
            Self::Prefix { from, to } => match name.strip_prefix(from.as_str()) {
                Some(rest) => format!("{to}{rest}"),
                None => name.to_owned(),
            },
            Self::Regex { re, to } => re.replace(name, to.as_str()).into_owned(),
        }
    }
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Abort {
    Abort {
        code,
        message: message.into(),
    }
}

/// Turns a requested name into a path relative to the root, or refuses it.
/// `root` is the canonical root (an absolute name beginning with it is taken
/// as inside the root, as tftpd-hpa does; any other absolute name is taken
/// relative to the root, like tftpd-hpa's chroot).
pub fn normalize(
    raw: &[u8],
    root: &Path,
    remaps: &[Remap],
    max_len: usize,
) -> Result<String, Abort> {
    if raw.contains(&0) {
        return Err(refuse(ErrorCode::AccessViolation, "NUL byte in file name"));
    }
    if raw.len() > max_len {
        return Err(refuse(
            ErrorCode::AccessViolation,
            format!("file name longer than {max_len} bytes"),
        ));
    }
    let name = std::str::from_utf8(raw)
        .map_err(|_| refuse(ErrorCode::AccessViolation, "file name is not UTF-8"))?;
    if name.is_empty() {
        return Err(refuse(ErrorCode::FileNotFound, "empty file name"));
    }
    // PXE ROMs send Windows-style paths (`boot\x86\file`).
    let mut name = name.replace('\\', "/");
    for rule in remaps {
        name = rule.apply(&name);
    }
    if name.contains('\0') || name.len() > max_len {
        return Err(refuse(
            ErrorCode::AccessViolation,
            "remapped name is invalid",
        ));
    }
    let root_str = root.to_string_lossy();
    let root_prefix = format!("{}/", root_str.trim_end_matches('/'));
    let relative = match name.strip_prefix(root_prefix.as_str()) {
        Some(inside) => inside,
        None => name.trim_start_matches('/'),
    };
    let mut parts = Vec::new();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(refuse(
                    ErrorCode::AccessViolation,
                    "`..` is not allowed in file names",
                ));
            }
            p if p.len() > MAX_COMPONENT => {
                return Err(refuse(
                    ErrorCode::AccessViolation,
                    "file name component too long",
                ));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(refuse(ErrorCode::FileNotFound, "no file name"));
    }
    Ok(parts.join("/"))
}

fn errno_abort(e: Errno) -> Abort {
    match e {
        Errno::ENOENT | Errno::ENOTDIR => refuse(ErrorCode::FileNotFound, "file not found"),
        Errno::EXDEV | Errno::ELOOP => refuse(
            ErrorCode::AccessViolation,
            "path leads outside the TFTP root",
        ),
        Errno::EACCES | Errno::EPERM => refuse(ErrorCode::AccessViolation, "permission denied"),
        Errno::ENAMETOOLONG => refuse(ErrorCode::AccessViolation, "file name too long"),
        other => refuse(
            ErrorCode::NotDefined,
            format!("cannot open: {}", other.desc()),
        ),
    }
}

/// Opens `relative` (from [`normalize`]) beneath `root` for reading; refuses
/// anything that is not a regular file. Returns the file and its size.
pub fn open_beneath(root: &File, root_path: &Path, relative: &str) -> Result<(File, u64), Abort> {
    open_beneath_meta(root, root_path, relative).map(|(file, meta)| (file, meta.len()))
}

/// [`open_beneath`], with the opened file's metadata.
pub fn open_beneath_meta(
    root: &File,
    root_path: &Path,
    relative: &str,
) -> Result<(File, std::fs::Metadata), Abort> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let file = match openat2(root, relative, how) {
        Ok(fd) => File::from(fd),
        Err(Errno::ENOSYS) => open_checked(root_path, relative)?,
        Err(e) => return Err(errno_abort(e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| refuse(ErrorCode::NotDefined, format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(refuse(ErrorCode::AccessViolation, "not a regular file"));
    }
    Ok((file, meta))
}

/// Fallback for kernels without openat2: canonicalise and check the prefix.
fn open_checked(root: &Path, relative: &str) -> Result<File, Abort> {
    let full = root.join(relative);
    let canonical = full.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refuse(ErrorCode::FileNotFound, "file not found"),
        _ => refuse(ErrorCode::AccessViolation, format!("cannot resolve: {e}")),
    })?;
    if !canonical.starts_with(root) {
        return Err(refuse(
            ErrorCode::AccessViolation,
            "path leads outside the TFTP root",
        ));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(&canonical)
        .map_err(|e| refuse(ErrorCode::AccessViolation, format!("cannot open: {e}")))
}

/// Where an upload of `relative` goes: its existing parent folder, resolved
/// inside the canonical `write_root`, and the final file name.
pub fn upload_target(write_root: &Path, relative: &str) -> Result<(PathBuf, String), Abort> {
    let rel = Path::new(relative);
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| refuse(ErrorCode::AccessViolation, "no file name"))?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    if parent
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(refuse(ErrorCode::AccessViolation, "invalid upload path"));
    }
    let dir = write_root
        .join(parent)
        .canonicalize()
        .map_err(|_| refuse(ErrorCode::AccessViolation, "upload folder does not exist"))?;
    if !dir.starts_with(write_root) {
        return Err(refuse(
            ErrorCode::AccessViolation,
            "upload path leads outside the write root",
        ));
    }
    Ok((dir, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Result<String, Abort> {
        normalize(raw.as_bytes(), Path::new("/srv/tftp"), &[], 512)
    }

    #[test]
    fn backslashes_become_slashes() {
        assert_eq!(
            norm("boot\\x86\\wdsnbp.com").unwrap(),
            "boot/x86/wdsnbp.com"
        );
    }

    #[test]
    fn dot_dot_is_refused_in_any_spelling() {
        for bad in ["../etc/passwd", "a/../../b", "a\\..\\..\\b", "..", "/.."] {
            let e = norm(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::AccessViolation, "{bad}");
        }
    }

    #[test]
    fn absolute_name_inside_the_root_is_made_relative() {
        assert_eq!(norm("/srv/tftp/pxelinux.0").unwrap(), "pxelinux.0");
        assert_eq!(norm("/pxelinux.0").unwrap(), "pxelinux.0");
        assert_eq!(
            norm("/etc/passwd").unwrap(),
            "etc/passwd",
            "stays under the root"
        );
    }

    #[test]
    fn nul_and_over_long_names_are_refused() {
        assert!(normalize(b"a\0b", Path::new("/r"), &[], 512).is_err());
        assert!(norm(&"a".repeat(600)).is_err());
        assert!(norm(&format!("d/{}", "a".repeat(300))).is_err());
    }

    #[test]
    fn remap_rules_apply_in_order() {
        let rules = Remap::compile(&[
            RemapRule {
                prefix: Some("Boot/".into()),
                regex: None,
                replace: "boot/".into(),
            },
            RemapRule {
                prefix: None,
                regex: Some(r"^boot/(\w+)\.EFI$".into()),
                replace: "efi/$1.efi".into(),
            },
        ])
        .unwrap();
        let out = normalize(b"Boot\\grub.EFI", Path::new("/r"), &rules, 512).unwrap();
        assert_eq!(out, "efi/grub.efi");
    }

    #[test]
    fn remap_rule_needs_exactly_one_matcher() {
        let bad = RemapRule {
            prefix: None,
            regex: None,
            replace: String::new(),
        };
        assert!(matches!(
            Remap::compile(&[bad]),
            Err(TftpError::Config { .. })
        ));
    }

    #[test]
    fn symlink_out_of_the_root_is_refused_and_inside_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::fs::write(root.join("ok"), "y").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("out")).unwrap();
        std::os::unix::fs::symlink("ok", root.join("in")).unwrap();
        let root = root.canonicalize().unwrap();
        let fd = File::open(&root).unwrap();
        assert_eq!(
            open_beneath(&fd, &root, "out").unwrap_err().code,
            ErrorCode::AccessViolation
        );
        assert_eq!(open_beneath(&fd, &root, "in").unwrap().1, 1);
        assert_eq!(
            open_beneath(&fd, &root, "missing").unwrap_err().code,
            ErrorCode::FileNotFound
        );
        assert!(open_checked(&root, "out").is_err());
        assert!(open_checked(&root, "in").is_ok());
    }

    #[test]
    fn folders_and_fifos_are_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        nix::unistd::mkfifo(&root.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        let fd = File::open(&root).unwrap();
        for name in ["sub", "fifo"] {
            assert_eq!(
                open_beneath(&fd, &root, name).unwrap_err().code,
                ErrorCode::AccessViolation,
                "{name}"
            );
        }
    }
}
