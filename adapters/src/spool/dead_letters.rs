//! Batches the server refused for good, kept in a folder with the server's reason:
//! `<spool id>.batch.zst` (the batch as it was spooled) and `<spool id>.reason.json`.

use pganalytics_ports::BoxError;
use pganalytics_ports::transport::DeadLetters;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct DeadLetterDir {
    dir: PathBuf,
}

impl DeadLetterDir {
    /// Letters go to `dir`, created when the first one comes.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl DeadLetters for DeadLetterDir {
    fn keep(&self, spool_id: u64, payload: &[u8], reason: &str) -> Result<(), BoxError> {
        std::fs::create_dir_all(&self.dir)?;
        let name = |ext: &str| self.dir.join(format!("{spool_id:020}.{ext}"));
        crate::fs::write_atomic(&name("reason.json"), reason.as_bytes(), 0o600)?;
        crate::fs::write_atomic(&name("batch.zst"), payload, 0o600)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_is_the_batch_and_the_reason_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let letters = DeadLetterDir::new(dir.path().join("dead-letter"));
        letters.keep(7, b"batch", r#"{"error":{}}"#).unwrap();
        let d = dir.path().join("dead-letter");
        assert_eq!(
            std::fs::read(d.join("00000000000000000007.batch.zst")).unwrap(),
            b"batch"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("00000000000000000007.reason.json")).unwrap(),
            r#"{"error":{}}"#
        );
    }
}
