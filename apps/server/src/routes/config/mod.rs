pub mod get;
pub mod put;
