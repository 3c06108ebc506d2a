//! `/api/v1/alert-rules`: rules as code. Bodies are rules in their rule-file form as JSON
//! (docs/alerts.md); import and export speak the rule file itself (TOML).

pub mod change;
pub mod create;
pub mod delete;
pub mod enable;
pub mod export;
pub mod get;
pub mod import;
pub mod list;
pub mod view;
