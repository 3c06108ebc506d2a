//! The console in a real browser (written next).
