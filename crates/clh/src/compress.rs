//! Gzip a rotated file so that a `.gz` only ever appears complete under its name.

use crate::error::{Context, Result, Step};
use crate::paths::with_suffix;
use crate::sys::{self, Access, Perms};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

/// Suffix of a compression in progress; such a file is never a finished backup.
pub(crate) const PARTIAL: &str = ".part";

/// Compress `src` into `src.gz` and remove `src`.
///
/// The data goes to `src.gz.part` (created with `src`'s mode and owner), is synced,
/// then renamed to `src.gz`; only then is `src` removed. A kill at any point leaves
/// either `src` alone (plus maybe a `.part` to delete) or a complete `src.gz`.
pub(crate) fn gzip(src: &Path) -> Result<PathBuf> {
    let dst = with_suffix(src, ".gz");
    let part = with_suffix(&dst, PARTIAL);
    let result = write_gz(src, &part).and_then(|()| fs::rename(&part, &dst));
    if let Err(e) = result {
        let _ = fs::remove_file(&part);
        return Err(e).at(Step::Compress, src);
    }
    fs::remove_file(src).at(Step::Compress, src)?;
    Ok(dst)
}

fn write_gz(src: &Path, part: &Path) -> io::Result<()> {
    let input = File::open(src)?;
    let meta = input.metadata()?;
    let _ = fs::remove_file(part);
    let out = sys::open_or_create(part, Access::CreateNew, &Perms::default())?;
    sys::copy_perms(&meta, &out)?;
    let mut encoder = GzEncoder::new(out, Compression::default());
    io::copy(
        &mut BufReader::with_capacity(256 * 1024, input),
        &mut encoder,
    )?;
    let out = encoder.finish()?;
    out.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn gzip_round_trip_removes_source() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.log.rotate.1");
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        fs::write(&src, &data).unwrap();
        let dst = gzip(&src).unwrap();
        assert!(!src.exists());
        assert!(!with_suffix(&dst, PARTIAL).exists());
        let mut back = Vec::new();
        GzDecoder::new(File::open(&dst).unwrap())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn gzip_of_missing_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = gzip(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
