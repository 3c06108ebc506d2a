//! Use cases: plain structs holding the ports they drive. Business rules live here and in
//! `pganalytics-domain`, never in an HTTP handler.

mod admin;
mod auth;
mod collect;
mod ingest;
mod query;
mod register;
mod renew;
mod sessions;
mod users;

pub use admin::{
    CollectorAdmin, ConfigUpdateError, CreateApiToken, CreateRegistrationToken, CreateTokenError,
    CreatedApiToken, CreatedRegistrationToken, GetCollectorConfig, ServerCatalog,
    UpdateCollectorConfig,
};
pub use auth::{AuthError, AuthenticateCollector, CollectorToken, RefreshCollectorToken};
pub use collect::{CollectCycle, CycleReport, RunSummary};
pub use ingest::{IngestBatch, IngestError, IngestReport, IngestStatus};
pub use query::{QueryError, QueryMetrics, Series, SeriesRequest};
pub use register::{RegisterCollector, RegisterError, RegisterRequest, Registration};
pub use renew::{CurrentCertificate, RenewCollectorCertificate, RenewError, Renewal};
pub use sessions::{
    AuthenticatePerson, Credential, Login, LoginError, Logout, PersonAuthError, RefreshError,
    RefreshSession, Tokens,
};
pub use users::{
    AuditLog, NewPassword, RotationReport, Secrets, SecretsError, UserAdmin, UserAdminError,
};
