//! What the agent's process is wired with: its one clock and its one id source, made where
//! the process starts ([`crate::main_with`]) and handed to every command.

use pganalytics_ports::env::{Clock, IdSource};
use std::sync::Arc;

#[derive(Clone)]
pub struct Process {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process").finish_non_exhaustive()
    }
}

impl Process {
    /// A uniform draw in `[0, 1)` from the id source (the backoff's jitter).
    pub fn draw(&self) -> f64 {
        let b = self.ids.secret();
        let bits = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        (bits >> 11) as f64 / (1u64 << 53) as f64
    }
}
