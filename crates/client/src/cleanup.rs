//! Leaving nothing behind: at the end the client removes the one directory
//! it owns (its log lives there) and, when it is a stamped download, its
//! own executable (`self_replace`). A development build run with
//! `--relay/--pin`, or an unstamped build, keeps its executable.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// What to remove at the end.
#[derive(Debug, Clone, Default)]
pub struct Cleanup {
    /// The running executable, when it is a download.
    pub exe: Option<PathBuf>,
    /// The directory this client created (logs).
    pub dir: Option<PathBuf>,
    /// The log file in `dir`, closed before `dir` goes: Windows cannot
    /// remove a file that is still open.
    pub log: Option<LogFile>,
}

/// The client's log file, shared by the log writer and the cleanup; once
/// closed, log lines go to stderr only.
#[derive(Debug, Clone)]
pub struct LogFile(Arc<Mutex<Option<File>>>);

impl LogFile {
    pub fn new(file: File) -> LogFile {
        LogFile(Arc::new(Mutex::new(Some(file))))
    }

    /// Closes the file (later writes are dropped).
    pub fn close(&self) {
        let file = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(file);
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// One removal and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub path: PathBuf,
    pub result: Result<(), String>,
}

impl Cleanup {
    /// Remove everything; returns what was attempted and logs each line.
    pub fn run(&self) -> Vec<Removal> {
        let mut done = Vec::new();
        if let Some(log) = &self.log {
            log.close();
        }
        if let Some(dir) = &self.dir {
            let result = remove_dir(dir);
            done.push(Removal {
                path: dir.clone(),
                result,
            });
        }
        if let Some(exe) = &self.exe {
            let result = self_replace::self_delete_at(exe).map_err(|e| e.to_string());
            done.push(Removal {
                path: exe.clone(),
                result,
            });
        }
        for r in &done {
            match &r.result {
                Ok(()) => tracing::info!("removed {}", r.path.display()),
                Err(e) => tracing::warn!("could not remove {}: {e}", r.path.display()),
            }
        }
        done
    }
}

fn remove_dir(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_owned_directory_and_the_executable() {
        let outer = tempfile::tempdir().expect("temp dir");
        let dir = outer.path().join("lotse-owned");
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
        std::fs::write(dir.join("sub/notes"), "notes").expect("write");
        // The log is still open, as while the client runs.
        let mut log = LogFile::new(File::create(dir.join("client.log")).expect("create the log"));
        log.write_all(b"line\n").expect("log a line");
        let exe = outer.path().join("lotse");
        std::fs::write(&exe, "program").expect("write");
        let cleanup = Cleanup {
            exe: Some(exe.clone()),
            dir: Some(dir.clone()),
            log: Some(log.clone()),
        };
        let done = cleanup.run();
        assert_eq!(done.len(), 2);
        assert!(done.iter().all(|r| r.result.is_ok()), "{done:?}");
        assert!(!dir.exists());
        assert!(!exe.exists());
        // Lines logged after the cleanup go nowhere, without an error.
        log.write_all(b"after\n").expect("a closed log takes lines");
        // Running again is harmless for the directory; the missing program
        // is reported, not a panic.
        let again = cleanup.run();
        assert!(again[0].result.is_ok());
        assert!(again[1].result.is_err());
    }

    #[test]
    fn keeps_a_development_build() {
        let outer = tempfile::tempdir().expect("temp dir");
        let exe = outer.path().join("lotse");
        std::fs::write(&exe, "program").expect("write");
        let done = Cleanup {
            exe: None,
            dir: None,
            log: None,
        }
        .run();
        assert!(done.is_empty());
        assert!(exe.exists());
    }
}
