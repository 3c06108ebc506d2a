pub mod certificate;
pub mod get;
pub mod list;
pub mod register;
pub mod revoke;
pub mod token;
