//! Write-then-rename: outputs are written under a hidden temporary name in the destination's
//! directory and renamed into place only when complete, so a half-written file never looks
//! finished. A [`PartFile`] that is dropped without [`commit`](PartFile::commit) is removed.

use redub_core::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
pub(crate) struct PartFile {
    part: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl PartFile {
    /// A temporary sibling of `dest` that keeps its extension (so ffmpeg picks the same
    /// container). Creates the destination directory when missing.
    pub(crate) fn new(dest: &Path) -> Result<Self> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let stem = dest.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = format!(".{stem}.part-{}-{n}", std::process::id());
        if let Some(ext) = dest.extension() {
            name.push('.');
            name.push_str(&ext.to_string_lossy());
        }
        Ok(Self { part: dir.join(name), dest: dest.to_path_buf(), committed: false })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.part
    }

    /// Rename the finished temporary file to its destination.
    pub(crate) fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.part, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Write `bytes` to `dest` via a temporary file and rename, so readers never see half a file.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let part = PartFile::new(dest)?;
    std::fs::write(part.path(), bytes).map_err(|e| Error::io(part.path(), e))?;
    part.commit()
}

/// Put `src` at `dest` as a hard link (no copy of the samples when both are on one disk), or
/// as a copy when linking fails (another file system). A file already at `dest` is replaced;
/// the link or copy is made under a temporary name and renamed into place.
pub fn link_or_copy(src: &Path, dest: &Path) -> Result<()> {
    let part = PartFile::new(dest)?;
    if std::fs::hard_link(src, part.path()).is_err() {
        std::fs::copy(src, part.path()).map_err(|e| Error::io(src, e))?;
    }
    // Renaming a link over another link to the same file would do nothing and leave the
    // temporary behind, so the old file goes first.
    match std::fs::remove_file(dest) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(dest, e)),
        _ => {}
    }
    part.commit()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn part_keeps_extension_and_is_removed_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/out.wav");
        let part = PartFile::new(&dest).unwrap();
        assert_eq!(part.path().extension().unwrap(), "wav");
        assert_eq!(part.path().parent().unwrap(), dir.path().join("sub"));
        std::fs::write(part.path(), b"x").unwrap();
        let p = part.path().to_path_buf();
        drop(part);
        assert!(!p.exists());
        assert!(!dest.exists());

        write_atomic(&dest, b"hello").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(dir.path().join("sub")).unwrap().count(), 1);
    }

    #[test]
    fn link_or_copy_replaces_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dest) = (dir.path().join("a.wav"), dir.path().join("out/b.wav"));
        std::fs::write(&src, b"first").unwrap();
        link_or_copy(&src, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        std::fs::remove_file(&src).unwrap();
        std::fs::write(&src, b"second").unwrap();
        link_or_copy(&src, &dest).unwrap();
        link_or_copy(&src, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path().join("out")).unwrap().count(), 1, "no temporaries left");
        assert!(link_or_copy(&dir.path().join("missing.wav"), &dest).is_err());
    }
}
