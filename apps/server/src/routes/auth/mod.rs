pub mod login;
pub mod logout;
pub mod me;
pub mod password;
pub mod refresh;
pub mod tokens;
