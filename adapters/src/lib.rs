#![doc = include_str!("../README.md")]

#[cfg(any(feature = "memory-backend", feature = "postgres-backend"))]
pub mod backend;
pub mod fs;
pub mod system;

#[cfg(feature = "host")]
pub mod host;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(feature = "local_postgres")]
pub mod local_postgres;
#[cfg(feature = "logging")]
pub mod logging;
#[cfg(feature = "logs")]
pub mod logs;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "password")]
pub mod password;
#[cfg(feature = "pgstats")]
pub mod pgstats;
#[cfg(feature = "pki")]
pub mod pki;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "spool")]
pub mod spool;
#[cfg(feature = "testing")]
pub mod test_clusters;
#[cfg(feature = "testing")]
pub mod testing;
