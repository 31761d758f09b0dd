//! The digests of plugin files, found by what identifies a file's version
//! instead of by reading and hashing it on every start.
//!
//! Compiled modules are cached under their module's SHA-256, and hashing a
//! large plugin costs milliseconds of every process that loads it. So the
//! cache directory also keeps, per file version, a small entry mapping the
//! file's [`FileVersion`] (canonical path, device, inode, length, modification
//! and status-change times with nanoseconds) to its digest. A lookup costs a
//! `stat` and reading one small file; any write to the plugin file changes its
//! status-change time (`ctime`, which, unlike `mtime`, no one but the clock can
//! set), so a changed file misses and is hashed again.
//!
//! Timestamps have a granularity (the kernel's clock tick, a few ms; 2 s on
//! FAT; the server's clock on network file systems): a file rewritten within
//! the tick of its previous write keeps its times. So a version is recorded
//! only once it is [`SETTLED`], older than any such granularity: a later write
//! then necessarily lands on a later time. A file used just after it was
//! written is hashed on every load until then.
//!
//! A manifest's `sha256` pin is not served from here: it checks the bytes
//! that will run against a file system that may not be trusted to report
//! honest times (a FUSE or network mount can), so pinned files are always
//! hashed. Outside Unix there is no inode or `ctime`, and no index either.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::cache::{sha256_hex, write_atomically};

/// How old a file version must be before its digest is recorded: well past
/// the coarsest timestamp granularity of a local file system (FAT's 2 s).
pub(super) const SETTLED: Duration = Duration::from_secs(3);

/// What identifies one version of a file's content, from its metadata alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct FileVersion {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    unix: UnixVersion,
}

/// The parts of a version only Unix has.
#[cfg(unix)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct UnixVersion {
    dev: u64,
    ino: u64,
    changed: (i64, i64),
}

impl FileVersion {
    /// The version a file's metadata describes.
    pub fn of(meta: &Metadata) -> FileVersion {
        FileVersion {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            unix: {
                use std::os::unix::fs::MetadataExt;
                UnixVersion {
                    dev: meta.dev(),
                    ino: meta.ino(),
                    changed: (meta.ctime(), meta.ctime_nsec()),
                }
            },
        }
    }

    /// Whether this version is old enough at `now` that a later write cannot
    /// leave the same times behind (see the module's documentation).
    pub fn settled(&self, now: SystemTime) -> bool {
        #[cfg(unix)]
        {
            let (secs, nanos) = self.unix.changed;
            let changed = match u64::try_from(secs) {
                Ok(secs) => SystemTime::UNIX_EPOCH + Duration::new(secs, nanos.clamp(0, 999_999_999) as u32),
                // Before 1970: nothing to compare with, treat it as just written.
                Err(_) => return false,
            };
            changed.checked_add(SETTLED).is_some_and(|settled| settled <= now)
        }
        #[cfg(not(unix))]
        {
            let _ = now;
            false
        }
    }

    /// The version as one line, for the index entry.
    #[cfg(unix)]
    fn line(&self, canonical: &Path) -> String {
        let modified = self
            .modified
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or_else(
                || "-".to_string(),
                |d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
            );
        let UnixVersion { dev, ino, changed } = &self.unix;
        format!(
            "dev={dev} ino={ino} len={} mtime={modified} ctime={}.{:09} path={}",
            self.len,
            changed.0,
            changed.1,
            canonical.display()
        )
    }
}

/// The index, in a directory of its own inside the module cache.
#[derive(Debug, Clone)]
pub(super) struct FileIndex {
    dir: Option<PathBuf>,
}

impl FileIndex {
    /// An index in `dir` (created when first written), or none.
    pub fn new(dir: Option<PathBuf>) -> FileIndex {
        FileIndex { dir }
    }

    /// The recorded digest of `path` at `version`, if there is one.
    pub fn lookup(&self, path: &Path, version: &FileVersion) -> Option<String> {
        let (entry, line) = self.entry(path, version)?;
        let text = std::fs::read_to_string(entry).ok()?;
        let (recorded, digest) = text.split_once('\n')?;
        // The entry's name is a hash of the line; comparing the line itself
        // also rejects a torn or foreign file.
        let valid = digest.len() == 64 && digest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        (recorded == line && valid).then(|| digest.to_string())
    }

    /// Records `digest` as the content of `path` at `version`, if that version
    /// is settled at `now`. Best effort: an index that cannot be written only
    /// means hashing again next time.
    pub fn record(&self, path: &Path, version: &FileVersion, digest: &str, now: SystemTime) {
        if !version.settled(now) {
            return;
        }
        if let Some((entry, line)) = self.entry(path, version) {
            let _ = write_atomically(&entry, || Ok(format!("{line}\n{digest}").into_bytes()));
        }
    }

    /// The entry's file and the line it must hold.
    #[cfg(unix)]
    fn entry(&self, path: &Path, version: &FileVersion) -> Option<(PathBuf, String)> {
        let dir = self.dir.as_ref()?;
        let canonical = std::fs::canonicalize(path).ok()?;
        let line = version.line(&canonical);
        Some((dir.join(sha256_hex(line.as_bytes())), line))
    }

    #[cfg(not(unix))]
    fn entry(&self, _path: &Path, _version: &FileVersion) -> Option<(PathBuf, String)> {
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn version(path: &Path) -> FileVersion {
        FileVersion::of(&std::fs::metadata(path).unwrap())
    }

    /// A time at which a version written now is settled.
    fn later() -> SystemTime {
        SystemTime::now() + SETTLED + Duration::from_secs(1)
    }

    fn index() -> (tempfile::TempDir, FileIndex, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let index = FileIndex::new(Some(dir.path().join("index")));
        let file = dir.path().join("plugin.wasm");
        std::fs::write(&file, b"version one").unwrap();
        (dir, index, file)
    }

    #[test]
    fn a_settled_version_is_found_by_its_metadata() {
        let (_dir, index, file) = index();
        let v = version(&file);
        index.record(&file, &v, &sha256_hex(b"version one"), later());
        assert_eq!(index.lookup(&file, &v), Some(sha256_hex(b"version one")));
        // The same file by another path is the same file.
        let other = file.parent().unwrap().join(".").join("plugin.wasm");
        assert_eq!(index.lookup(&other, &version(&other)), Some(sha256_hex(b"version one")));
    }

    #[test]
    fn a_just_written_version_is_not_recorded() {
        let (_dir, index, file) = index();
        let v = version(&file);
        index.record(&file, &v, &sha256_hex(b"version one"), SystemTime::now());
        assert_eq!(index.lookup(&file, &v), None);
    }

    #[test]
    fn a_replaced_file_of_the_same_length_misses() {
        let (dir, index, file) = index();
        index.record(&file, &version(&file), &sha256_hex(b"version one"), later());
        // Replaced by rename (a new inode), with the old modification time.
        let old_mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        let new = dir.path().join("new.wasm");
        std::fs::write(&new, b"version two").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&new)
            .unwrap()
            .set_modified(old_mtime)
            .unwrap();
        std::fs::rename(&new, &file).unwrap();
        assert_eq!(index.lookup(&file, &version(&file)), None);
    }

    #[test]
    fn a_file_whose_times_are_set_back_misses() {
        let (_dir, index, file) = index();
        let v = version(&file);
        index.record(&file, &v, &sha256_hex(b"version one"), later());
        // Rewritten in place and its mtime set back: `ctime` still moves on,
        // unless the rewrite falls in the same clock tick (which is why only
        // settled versions are recorded). Wait for the tick, never for long.
        let file_handle = std::fs::File::options().write(true).open(&file).unwrap();
        let old_mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        let mut now = version(&file);
        for _ in 0..1000 {
            std::fs::write(&file, b"version two").unwrap();
            file_handle.set_modified(old_mtime).unwrap();
            now = version(&file);
            if now != v {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_ne!(now, v, "rewriting a file changes its version");
        assert_eq!(index.lookup(&file, &now), None);
    }

    #[test]
    fn a_torn_entry_is_ignored() {
        let (dir, index, file) = index();
        let v = version(&file);
        index.record(&file, &v, &sha256_hex(b"version one"), later());
        for entry in std::fs::read_dir(dir.path().join("index")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, &text[..text.len() - 3]).unwrap();
        }
        assert_eq!(index.lookup(&file, &v), None);
    }
}
