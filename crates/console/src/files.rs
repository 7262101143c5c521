//! Receiving one file from a customer: chunks go into a hidden temporary
//! file next to the destination; only a complete file whose SHA-256 equals
//! the offered one is renamed into place. Anything else is removed, so a
//! half or corrupted file never appears under the real name.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the folder {0} does not exist or is not a folder")]
    NoFolder(PathBuf),
    #[error("could not write into {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a chunk arrived for byte {got}, expected byte {expected}")]
    OutOfOrder { expected: u64, got: u64 },
    #[error("the customer sent more than the announced {size} bytes")]
    TooLong { size: u64 },
}

/// An accepted transfer being written.
#[derive(Debug)]
pub struct Incoming {
    dir: PathBuf,
    name: String,
    size: u64,
    expected_sha256: String,
    temp_path: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    received: u64,
}

/// How a finished transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Where the file now is (`None` when it was removed).
    pub path: Option<PathBuf>,
    /// SHA-256 of what arrived (lowercase hex).
    pub sha256: String,
    /// Whether size and hash matched the offer.
    pub ok: bool,
}

/// A file name from the customer reduced to its last path component, with
/// nothing that could escape the chosen folder or hide the file.
pub fn safe_file_name(offered: &str) -> String {
    let last = offered
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != ':')
        .collect();
    let cleaned = cleaned.trim_start_matches('.').trim().to_owned();
    if cleaned.is_empty() {
        "received-file".to_owned()
    } else {
        cleaned
    }
}

/// `dir/name`, or `dir/stem (2).ext` … when that name is already taken.
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_owned(), format!(".{e}")),
        _ => (name.to_owned(), String::new()),
    };
    (2..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

impl Incoming {
    /// Start a transfer into `dir` (which must exist).
    pub fn create(
        dir: &Path,
        offered_name: &str,
        size: u64,
        sha256: &str,
        unique: u64,
    ) -> Result<Self, FileError> {
        if !dir.is_dir() {
            return Err(FileError::NoFolder(dir.to_owned()));
        }
        let name = safe_file_name(offered_name);
        let temp_path = dir.join(format!(".{name}.{unique}.lotse-part"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp_path)
            .map_err(|source| FileError::Io {
                path: temp_path.clone(),
                source,
            })?;
        Ok(Self {
            dir: dir.to_owned(),
            name,
            size,
            expected_sha256: sha256.trim().to_ascii_lowercase(),
            temp_path,
            file: Some(file),
            hasher: Sha256::new(),
            received: 0,
        })
    }

    pub fn received(&self) -> u64 {
        self.received
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Append the chunk that starts at byte `offset`.
    pub fn write_chunk(&mut self, offset: u64, data: &[u8]) -> Result<(), FileError> {
        if offset != self.received {
            return Err(FileError::OutOfOrder {
                expected: self.received,
                got: offset,
            });
        }
        let len = data.len() as u64;
        if self.received + len > self.size {
            return Err(FileError::TooLong { size: self.size });
        }
        let file = self.file.as_mut().ok_or_else(|| FileError::Io {
            path: self.temp_path.clone(),
            source: std::io::Error::other("already finished"),
        })?;
        file.write_all(data).map_err(|source| FileError::Io {
            path: self.temp_path.clone(),
            source,
        })?;
        self.hasher.update(data);
        self.received += len;
        Ok(())
    }

    /// The last chunk arrived: check and move into place, or remove.
    pub fn finish(mut self) -> Finished {
        let sha256 = hex::encode(self.hasher.clone().finalize());
        let ok = self.received == self.size && sha256 == self.expected_sha256;
        let synced = self.file.take().is_some_and(|f| f.sync_all().is_ok());
        if ok && synced {
            let target = free_path(&self.dir, &self.name);
            if std::fs::rename(&self.temp_path, &target).is_ok() {
                return Finished {
                    path: Some(target),
                    sha256,
                    ok: true,
                };
            }
        }
        let _ = std::fs::remove_file(&self.temp_path);
        Finished {
            path: None,
            sha256,
            ok: false,
        }
    }

    /// Stop and remove the partial file.
    pub fn abort(mut self) {
        self.file.take();
        let _ = std::fs::remove_file(&self.temp_path);
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // A transfer dropped without finish/abort (session ended, program
        // quit) leaves nothing behind.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    #[test]
    fn complete_matching_file_is_renamed_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"hello lotse".repeat(1000);
        let mut inc =
            Incoming::create(dir.path(), "report.txt", data.len() as u64, &sha(&data), 1).unwrap();
        inc.write_chunk(0, &data[..5000]).unwrap();
        inc.write_chunk(5000, &data[5000..]).unwrap();
        let done = inc.finish();
        assert!(done.ok);
        let path = done.path.unwrap();
        assert_eq!(path, dir.path().join("report.txt"));
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn wrong_hash_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut inc = Incoming::create(dir.path(), "a.bin", 3, &sha(b"xyz"), 1).unwrap();
        inc.write_chunk(0, b"abc").unwrap();
        let done = inc.finish();
        assert!(!done.ok);
        assert_eq!(done.sha256, sha(b"abc"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn bad_chunks_are_rejected_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut inc = Incoming::create(dir.path(), "a.bin", 3, &sha(b"abc"), 1).unwrap();
        assert!(matches!(
            inc.write_chunk(1, b"b"),
            Err(FileError::OutOfOrder { .. })
        ));
        assert!(matches!(
            inc.write_chunk(0, b"abcd"),
            Err(FileError::TooLong { .. })
        ));
        drop(inc);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn names_cannot_escape_the_folder_and_do_not_overwrite() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\Users\\x\\..\\evil.exe"), "evil.exe");
        assert_eq!(safe_file_name(".bashrc"), "bashrc");
        assert_eq!(safe_file_name(".."), "received-file");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"old").unwrap();
        let mut inc = Incoming::create(dir.path(), "a.txt", 1, &sha(b"n"), 2).unwrap();
        inc.write_chunk(0, b"n").unwrap();
        let done = inc.finish();
        assert_eq!(done.path.unwrap(), dir.path().join("a (2).txt"));
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"old");
    }
}
