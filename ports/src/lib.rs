#![doc = include_str!("../README.md")]

pub mod backend;
pub mod crypto;
pub mod env;
pub mod error;
pub mod notify;
pub mod sources;
pub mod spool;
pub mod store;
pub mod transport;
pub mod usecases;

#[cfg(feature = "contract-tests")]
pub mod contract;

pub use backend::{Backend, Services};
pub use error::{BoxError, StoreError};
