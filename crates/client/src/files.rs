//! Sending files to the technician (runs on the network runtime).
//!
//! 1. [`prepare`] reads the file once for its size and SHA-256 (the offer).
//! 2. After `file_accept`, [`upload`] reads it again in
//!    [`FILE_CHUNK_BYTES`] slices and hands each to the link as a binary
//!    frame: kind `FileChunk`, `id` = transfer id, `seq` = byte offset,
//!    [`FLAG_LAST`] on the last slice. It hashes as it reads and refuses to
//!    send the last slice if the file changed since the offer, so the far
//!    end never completes a file that differs from the offer.
//!
//! Cancel by aborting the task; the session sends `file_cancel`.

use std::path::Path;

use lotse_protocol::{BinaryHeader, BinaryKind, FILE_CHUNK_BYTES, FLAG_LAST};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::session::FileProblem;

/// Result of [`prepare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub name: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

fn problem(e: &std::io::Error) -> FileProblem {
    if e.kind() == std::io::ErrorKind::NotFound {
        FileProblem::Vanished
    } else {
        FileProblem::Unreadable(e.to_string())
    }
}

/// Size and SHA-256 of a regular file.
pub async fn prepare(path: &Path) -> Result<Prepared, FileProblem> {
    let mut file = tokio::fs::File::open(path).await.map_err(|e| problem(&e))?;
    let meta = file.metadata().await.map_err(|e| problem(&e))?;
    if !meta.is_file() {
        return Err(FileProblem::Unreadable("not a regular file".into()));
    }
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await.map_err(|e| problem(&e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "file".into());
    Ok(Prepared {
        name,
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Send `path` as binary frames into `frames`; `progress(sent)` after each
/// slice. Fails (without sending the last slice) if the file changed since
/// `offered`.
pub async fn upload(
    id: u32,
    path: &Path,
    offered: &Prepared,
    frames: &mpsc::Sender<Vec<u8>>,
    mut progress: impl FnMut(u64),
) -> Result<(), FileProblem> {
    let mut file = tokio::fs::File::open(path).await.map_err(|e| problem(&e))?;
    let mut hasher = Sha256::new();
    let mut offset = 0u64;
    let mut buf = vec![0u8; FILE_CHUNK_BYTES];
    loop {
        let n = read_full(&mut file, &mut buf)
            .await
            .map_err(|e| problem(&e))?;
        let after = offset + n as u64;
        if after > offered.size {
            return Err(FileProblem::Vanished);
        }
        hasher.update(&buf[..n]);
        let last = after == offered.size;
        if !last && n < buf.len() {
            // The file ended before the offered size.
            return Err(FileProblem::Vanished);
        }
        if last {
            let digest = hex::encode(hasher.clone().finalize());
            // Anything still in the file beyond the offered size?
            let extra = file.read(&mut [0u8; 1]).await.map_err(|e| problem(&e))?;
            if digest != offered.sha256 || extra != 0 {
                return Err(FileProblem::Vanished);
            }
        }
        let header = BinaryHeader {
            kind: BinaryKind::FileChunk,
            flags: if last { FLAG_LAST } else { 0 },
            id,
            session: 0,
            seq: offset,
        };
        frames
            .send(header.frame(&buf[..n]))
            .await
            .map_err(|_| FileProblem::Interrupted)?;
        offset = after;
        progress(offset);
        if last {
            return Ok(());
        }
    }
}

/// Fill `buf` as far as the file allows.
async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// Collect the frames an upload produces and reassemble the file.
    fn reassemble(frames: Vec<Vec<u8>>, id: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let count = frames.len();
        for (i, f) in frames.iter().enumerate() {
            let (h, payload) = BinaryHeader::parse(f).expect("valid frame");
            assert_eq!(h.kind, BinaryKind::FileChunk);
            assert_eq!(h.id, id);
            assert_eq!(h.session, 0);
            assert_eq!(h.seq, out.len() as u64);
            assert_eq!(h.is_last(), i + 1 == count);
            out.extend_from_slice(payload);
        }
        out
    }

    #[test]
    fn a_file_arrives_whole_in_chunks_with_its_hash() {
        rt().block_on(async {
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("bericht.bin");
            let data: Vec<u8> = (0..(FILE_CHUNK_BYTES * 2 + 1234))
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            std::fs::write(&path, &data).expect("write");
            let prepared = prepare(&path).await.expect("prepare");
            assert_eq!(prepared.name, "bericht.bin");
            assert_eq!(prepared.size, data.len() as u64);
            assert_eq!(prepared.sha256, hex::encode(Sha256::digest(&data)));

            let (tx, mut rx) = mpsc::channel(8);
            let mut seen = Vec::new();
            upload(5, &path, &prepared, &tx, |s| seen.push(s))
                .await
                .expect("upload");
            drop(tx);
            let mut frames = Vec::new();
            while let Some(f) = rx.recv().await {
                frames.push(f);
            }
            assert_eq!(frames.len(), 3);
            assert_eq!(reassemble(frames, 5), data);
            assert_eq!(seen.last(), Some(&(data.len() as u64)));
        });
    }

    #[test]
    fn an_empty_file_is_one_last_frame() {
        rt().block_on(async {
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("leer.txt");
            std::fs::write(&path, b"").expect("write");
            let prepared = prepare(&path).await.expect("prepare");
            let (tx, mut rx) = mpsc::channel(8);
            upload(1, &path, &prepared, &tx, |_| {})
                .await
                .expect("upload");
            drop(tx);
            let frame = rx.recv().await.expect("one frame");
            let (h, payload) = BinaryHeader::parse(&frame).expect("valid");
            assert!(h.is_last());
            assert!(payload.is_empty());
            assert!(rx.recv().await.is_none());
        });
    }

    #[test]
    fn a_vanished_or_changed_file_is_reported_and_never_completed() {
        rt().block_on(async {
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("a.txt");
            std::fs::write(&path, b"hello").expect("write");
            let prepared = prepare(&path).await.expect("prepare");

            std::fs::write(&path, b"hellO").expect("change");
            let (tx, mut rx) = mpsc::channel(8);
            let r = upload(1, &path, &prepared, &tx, |_| {}).await;
            assert_eq!(r, Err(FileProblem::Vanished));
            std::fs::write(&path, b"hello, longer").expect("grow");
            assert_eq!(
                upload(1, &path, &prepared, &tx, |_| {}).await,
                Err(FileProblem::Vanished)
            );
            std::fs::write(&path, b"hel").expect("shrink");
            assert_eq!(
                upload(1, &path, &prepared, &tx, |_| {}).await,
                Err(FileProblem::Vanished)
            );
            std::fs::remove_file(&path).expect("remove");
            assert_eq!(
                upload(1, &path, &prepared, &tx, |_| {}).await,
                Err(FileProblem::Vanished)
            );
            assert_eq!(prepare(&path).await, Err(FileProblem::Vanished));
            assert!(
                matches!(prepare(dir.path()).await, Err(FileProblem::Unreadable(_))),
                "a directory is not a file"
            );
            drop(tx);
            assert!(rx.recv().await.is_none(), "nothing was sent");
        });
    }
}
