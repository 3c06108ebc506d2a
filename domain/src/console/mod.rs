//! The web console's page models: what each page shows for given data, free of HTML. The
//! server's shell renders them; these rules are tested here.

pub mod alerts;
pub mod charts;
pub mod fleet;
pub mod format;
pub mod range;
pub mod tables;

#[cfg(test)]
mod tests;
