//! Use cases: plain structs holding the ports they drive. Business rules live here and in
//! `pganalytics-domain`, never in an HTTP handler.

mod admin;
pub mod alerts;
mod auth;
mod authorize;
mod collect;
mod console;
mod deliver;
mod fleet;
mod ingest;
mod presence;
mod query;
mod register;
mod renew;
mod server;
mod sessions;
mod storage;
mod users;

pub use admin::{
    CollectorAdmin, CollectorCounts, ConfigUpdateError, CreateApiToken, CreateRegistrationToken,
    CreateTokenError, CreatedApiToken, CreatedRegistrationToken, GetCollectorConfig, Health,
    ServerCatalog, UpdateCollectorConfig,
};
pub use auth::{AuthError, AuthenticateCollector, CollectorToken, RefreshCollectorToken};
pub use authorize::{Attempt, Authorize, Authorized, ConsoleCaller, Denied, Presented};
pub use collect::{CollectCycle, CycleReport, RunSummary};
pub use console::{
    AdminPage, AlertsPage, LogsPage, ServerPage, StatementPage, log_counts_chart, statement_charts,
};
pub use deliver::{DEAD_LETTER_STALL, DeliverBatches, Delivery, PollConfig, SPOOL_STALL};
pub use fleet::FleetOverview;
pub use ingest::{
    Committer, GroupCommitSettings, IngestBatch, IngestError, IngestReport, IngestStatus,
};
pub use presence::CollectorPresence;
pub use query::{QueryError, QueryMetrics, Series, SeriesReply, SeriesRequest};
pub use register::{RegisterCollector, RegisterError, RegisterRequest, Registration};
pub use renew::{CurrentCertificate, RenewCollectorCertificate, RenewError, Renewal};
pub use server::{Limits, ServerUseCases};
pub use sessions::{
    AuthenticatePerson, ConsoleSession, Credential, Login, LoginError, Logout, PersonAuthError,
    RefreshError, RefreshSession, Tokens,
};
pub use storage::{
    FamilyRetention, LogCounts, LogPage, LogSearchError, LogSearchRequest, MAX_PAGE,
    MAX_STATEMENTS, Maintenance, QueryStatements, RESOLVED_ALERTS_KEPT, ROLLUP_HOURS_PER_PASS,
    RankedStatement, RetentionAdmin, RetentionAdminError, SearchLogEvents, StatementDetail,
    StatementStep, StatementsError, StatementsReply, StatementsRequest, decode_cursor,
    encode_cursor,
};
pub use users::{
    AuditLog, NewPassword, RotationReport, Secrets, SecretsError, UserAdmin, UserAdminError,
};
