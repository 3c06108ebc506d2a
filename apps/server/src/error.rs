//! The one place where errors become HTTP responses: `{"error": {"code", "message"}}` with
//! the right status. Unknown errors are 500 with a generic message; their cause travels in
//! the response's extensions ([`InternalCause`]) to the access log, which logs it once with
//! the request's id. An unavailable database is 503 with `Retry-After`, never a 4xx.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{Error, HttpRequest, HttpResponse, ResponseError};
use pganalytics_domain::batch::BatchError;
use pganalytics_domain::credentials::CredentialError;
use pganalytics_ports::StoreError;
use pganalytics_ports::crypto::PasswordError;
use pganalytics_ports::crypto::TokenError;
use pganalytics_ports::usecases::alerts::{AlertAdminError, ChannelError, RuleError};
use pganalytics_ports::usecases::{
    AuthError, ConfigUpdateError, CreateTokenError, Denied, IngestError, LogSearchError,
    LoginError, PersonAuthError, QueryError, RefreshError, RegisterError, RenewError,
    RetentionAdminError, StatementsError, UserAdminError,
};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for a 429.
    pub retry_after: Option<u64>,
    /// The request parameter or field at fault, for a 400.
    pub field: Option<&'static str>,
    /// The cause chain of an unexpected error: logged, never sent.
    cause: Option<String>,
}

/// The cause of a 500, in the response's extensions for the access log.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            field: None,
            cause: None,
        }
    }
    /// A 400 `invalid_query` naming the parameter at fault.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::bad_request("invalid_query", message)
        }
    }
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        // The whole chain goes to the access log; the client learns nothing internal.
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        Self {
            cause: Some(chain),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an unexpected error occurred; it has been logged",
            )
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            b.insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()));
        }
        if let Some(secs) = self.retry_after {
            b.insert_header(("Retry-After", secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            b.insert_header(("WWW-Authenticate", "Bearer"));
        }
        let mut res = b.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                field: self.field,
            },
        });
        if let Some(cause) = &self.cause {
            res.extensions_mut().insert(InternalCause(cause.clone()));
        }
        res
    }
}

/// actix's JSON extractor errors, in our shape.
pub fn json_error(err: JsonPayloadError, _: &HttpRequest) -> Error {
    let e = match &err {
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        ),
        other => ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON for this endpoint: {other}"),
        ),
    };
    e.into()
}

pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> Error {
    ApiError::bad_request("invalid_query", format!("invalid query string: {err}")).into()
}

/// A path whose id does not parse names nothing: 404, without echoing the parser's text.
pub fn path_error(_: PathError, _: &HttpRequest) -> Error {
    ApiError::not_found("no such resource").into()
}

/// Every error answer of the API: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable, machine-readable: `not_found`, `rate_limited`, `invalid_credentials`…
    #[schema(example = "not_found")]
    pub code: &'a str,
    /// For people; may change between releases.
    #[schema(example = "user not found")]
    pub message: &'a str,
    /// The request parameter or field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "severity")]
    pub field: Option<&'static str>,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity } => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{entity} not found"),
            ),
            StoreError::Conflict { entity } => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{entity} already exists"),
            ),
            StoreError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; retry later",
            ),
            StoreError::Invalid(message) => Self::bad_request("invalid_input", message),
            StoreError::Unknown(ref cause) => Self::internal(cause.as_ref()),
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        let msg = e.to_string();
        match e {
            RuleError::Invalid(_) | RuleError::File(_) | RuleError::Rename { .. } => {
                Self::bad_request("invalid_rule", msg)
            }
            RuleError::Store(s) => s.into(),
        }
    }
}

impl From<AlertAdminError> for ApiError {
    fn from(e: AlertAdminError) -> Self {
        let msg = e.to_string();
        match e {
            AlertAdminError::Invalid(_) => Self::bad_request("invalid_input", msg),
            AlertAdminError::NotFiring => Self::new(StatusCode::CONFLICT, "not_firing", msg),
            AlertAdminError::Store(s) => s.into(),
        }
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        let msg = e.to_string();
        match e {
            ChannelError::Invalid { .. } => Self::bad_request("invalid_channel", msg),
            ChannelError::Store(s) => s.into(),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        match e {
            Denied::RegistrationTokenRequired => Self::new(
                StatusCode::UNAUTHORIZED,
                "registration_token_required",
                e.to_string(),
            ),
            Denied::Collector(a) => a.into(),
            Denied::Person(p) => p.into(),
            Denied::Forbidden { .. } => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            Denied::Csrf => Self::new(StatusCode::FORBIDDEN, "csrf", e.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            AuthError::MissingCertificate => {
                Self::new(S::UNAUTHORIZED, "client_certificate_required", msg)
            }
            AuthError::MissingToken => Self::new(S::UNAUTHORIZED, "token_required", msg),
            AuthError::InvalidToken(TokenError::Expired) => {
                Self::new(S::UNAUTHORIZED, "token_expired", msg)
            }
            AuthError::InvalidToken(_) => Self::new(S::UNAUTHORIZED, "invalid_token", msg),
            AuthError::CertificateMismatch => Self::new(S::FORBIDDEN, "certificate_mismatch", msg),
            AuthError::WrongCollector => Self::new(S::FORBIDDEN, "wrong_collector", msg),
            AuthError::Revoked => Self::new(S::FORBIDDEN, "collector_revoked", msg),
            AuthError::Store(s) => s.into(),
        }
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        let status = match e {
            BatchError::LimitExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BatchError::CollectorMismatch { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(b) => b.into(),
            IngestError::Store(s) => s.into(),
        }
    }
}

impl From<ConfigUpdateError> for ApiError {
    fn from(e: ConfigUpdateError) -> Self {
        match e {
            ConfigUpdateError::Invalid(msg) => Self::bad_request("invalid_config", msg),
            ConfigUpdateError::Store(s) => s.into(),
        }
    }
}

impl From<RenewError> for ApiError {
    fn from(e: RenewError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            RenewError::Auth(a) => a.into(),
            RenewError::InvalidCsr(_) => Self::new(S::BAD_REQUEST, "invalid_csr", msg),
            RenewError::Superseded => Self::new(S::CONFLICT, "certificate_superseded", msg),
            RenewError::Pki(ref cause) => Self::internal(cause),
            RenewError::Store(s) => s.into(),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            RegisterError::InvalidInput(_) => Self::new(S::BAD_REQUEST, "invalid_input", msg),
            RegisterError::InvalidToken => {
                Self::new(S::UNAUTHORIZED, "invalid_registration_token", msg)
            }
            RegisterError::TokenRejected(CredentialError::Expired) => {
                Self::new(S::UNAUTHORIZED, "registration_token_expired", msg)
            }
            RegisterError::TokenRejected(CredentialError::UsedUp) => {
                Self::new(S::UNAUTHORIZED, "registration_token_used_up", msg)
            }
            RegisterError::TokenRejected(_) => {
                Self::new(S::UNAUTHORIZED, "invalid_registration_token", msg)
            }
            RegisterError::InvalidCsr(_) => Self::new(S::BAD_REQUEST, "invalid_csr", msg),
            RegisterError::NameTaken(_) => Self::new(S::CONFLICT, "name_taken", msg),
            RegisterError::Store(s) => s.into(),
            RegisterError::Token(ref cause) => Self::internal(cause),
            RegisterError::Pki(ref cause) => Self::internal(cause),
        }
    }
}

impl From<PersonAuthError> for ApiError {
    fn from(e: PersonAuthError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            PersonAuthError::Missing => Self::new(S::UNAUTHORIZED, "authentication_required", msg),
            PersonAuthError::InvalidAccessToken(TokenError::Expired) => {
                Self::new(S::UNAUTHORIZED, "token_expired", msg)
            }
            PersonAuthError::InvalidAccessToken(_) => {
                Self::new(S::UNAUTHORIZED, "invalid_token", msg)
            }
            PersonAuthError::SessionEnded => Self::new(S::UNAUTHORIZED, "session_ended", msg),
            PersonAuthError::InvalidApiToken => {
                Self::new(S::UNAUTHORIZED, "invalid_api_token", msg)
            }
            PersonAuthError::Store(s) => s.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        let msg = e.to_string();
        match e {
            LoginError::InvalidCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", msg)
            }
            LoginError::Throttled(wait) => {
                Self::too_many_requests(msg, wait.whole_seconds().max(1).unsigned_abs())
            }
            LoginError::Password(ref cause) => Self::internal(cause),
            LoginError::Token(ref cause) => Self::internal(cause),
            LoginError::Store(s) => s.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        let msg = e.to_string();
        match e {
            RefreshError::Invalid => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_refresh_token", msg)
            }
            RefreshError::Reused => {
                Self::new(StatusCode::UNAUTHORIZED, "refresh_token_reused", msg)
            }
            RefreshError::Token(ref cause) => Self::internal(cause),
            RefreshError::Store(s) => s.into(),
        }
    }
}

impl From<UserAdminError> for ApiError {
    fn from(e: UserAdminError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            UserAdminError::Invalid(_) => Self::new(S::BAD_REQUEST, "invalid_input", msg),
            UserAdminError::Password(PasswordError::TooLong) => {
                Self::new(S::BAD_REQUEST, "invalid_input", msg)
            }
            UserAdminError::Password(ref cause) => Self::internal(cause),
            UserAdminError::WrongPassword => Self::new(S::FORBIDDEN, "wrong_password", msg),
            UserAdminError::NotAUser => Self::new(S::FORBIDDEN, "not_a_user", msg),
            UserAdminError::LastAdmin => Self::new(S::CONFLICT, "last_admin", msg),
            UserAdminError::NameTaken(_) => Self::new(S::CONFLICT, "name_taken", msg),
            UserAdminError::Store(s) => s.into(),
        }
    }
}

impl From<CreateTokenError> for ApiError {
    fn from(e: CreateTokenError) -> Self {
        let msg = e.to_string();
        match e {
            CreateTokenError::Store(s) => s.into(),
            _ => Self::bad_request("invalid_input", msg),
        }
    }
}

impl From<StatementsError> for ApiError {
    fn from(e: StatementsError) -> Self {
        let msg = e.to_string();
        match e {
            StatementsError::Invalid { field, .. } => Self::invalid_field(field, msg),
            StatementsError::NotFound(_) => Self::not_found(msg),
            StatementsError::Store(s) => s.into(),
        }
    }
}

impl From<LogSearchError> for ApiError {
    fn from(e: LogSearchError) -> Self {
        let msg = e.to_string();
        match e {
            LogSearchError::Invalid { field, .. } => Self::invalid_field(field, msg),
            LogSearchError::Store(s) => s.into(),
        }
    }
}

impl From<RetentionAdminError> for ApiError {
    fn from(e: RetentionAdminError) -> Self {
        let msg = e.to_string();
        match e {
            RetentionAdminError::UnknownFamily(_) => Self::not_found(msg),
            RetentionAdminError::Invalid(r) => Self::invalid_field(r.field, msg),
            RetentionAdminError::Store(s) => s.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let msg = e.to_string();
        match e {
            QueryError::UnknownFamily(_) => Self::bad_request("unknown_family", msg),
            QueryError::UnknownColumn { .. } => Self::bad_request("unknown_column", msg),
            QueryError::UnknownLabel { .. } => Self::bad_request("unknown_label", msg),
            QueryError::InvalidRange(_) => Self::bad_request("invalid_range", msg),
            QueryError::TooLarge(_) => Self::bad_request("query_too_large", msg),
            QueryError::Store(s) => s.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pganalytics_domain::collector::CollectorId;
    use pganalytics_ports::crypto::PkiError;

    fn io() -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(std::io::Error::other("boom"))
    }

    #[test]
    fn every_domain_error_maps_to_its_status() {
        let cases: Vec<(ApiError, u16)> = vec![
            (StoreError::NotFound { entity: "x" }.into(), 404),
            (StoreError::Conflict { entity: "x" }.into(), 409),
            (StoreError::Unavailable(io()).into(), 503),
            (StoreError::Unknown(io()).into(), 500),
            (StoreError::Invalid("x".into()).into(), 400),
            (RuleError::Invalid(Vec::new()).into(), 400),
            (RuleError::File(Vec::new()).into(), 400),
            (AlertAdminError::NotFiring.into(), 409),
            (AlertAdminError::Invalid("x".into()).into(), 400),
            (
                ChannelError::Invalid {
                    field: "url".into(),
                    message: "x".into(),
                }
                .into(),
                400,
            ),
            (AuthError::MissingCertificate.into(), 401),
            (AuthError::MissingToken.into(), 401),
            (AuthError::InvalidToken(TokenError::Expired).into(), 401),
            (
                AuthError::InvalidToken(TokenError::BadSignature).into(),
                401,
            ),
            (AuthError::InvalidToken(TokenError::Malformed).into(), 401),
            (
                AuthError::InvalidToken(TokenError::WrongAudience).into(),
                401,
            ),
            (PersonAuthError::InvalidApiToken.into(), 401),
            (PersonAuthError::Missing.into(), 401),
            (PersonAuthError::SessionEnded.into(), 401),
            (
                PersonAuthError::InvalidAccessToken(TokenError::Expired).into(),
                401,
            ),
            (
                PersonAuthError::Store(StoreError::Unavailable(io())).into(),
                503,
            ),
            (LoginError::InvalidCredentials.into(), 401),
            (
                LoginError::Throttled(time::Duration::seconds(3)).into(),
                429,
            ),
            (RefreshError::Invalid.into(), 401),
            (RefreshError::Reused.into(), 401),
            (UserAdminError::LastAdmin.into(), 409),
            (UserAdminError::NameTaken("x".into()).into(), 409),
            (UserAdminError::WrongPassword.into(), 403),
            (UserAdminError::NotAUser.into(), 403),
            (
                UserAdminError::Invalid(pganalytics_domain::users::UserError::PasswordTooShort)
                    .into(),
                400,
            ),
            (
                UserAdminError::Password(pganalytics_ports::crypto::PasswordError::TooLong).into(),
                400,
            ),
            (
                UserAdminError::Store(StoreError::NotFound { entity: "user" }).into(),
                404,
            ),
            (CreateTokenError::Ttl.into(), 400),
            (CreateTokenError::Name.into(), 400),
            (
                CreateTokenError::Store(StoreError::Unavailable(io())).into(),
                503,
            ),
            (Denied::RegistrationTokenRequired.into(), 401),
            (Denied::Person(PersonAuthError::Missing).into(), 401),
            (Denied::Collector(AuthError::MissingCertificate).into(), 401),
            (
                Denied::Forbidden {
                    role: pganalytics_domain::access::Role::Viewer,
                    permission: pganalytics_domain::access::Permission::ManageUsers,
                }
                .into(),
                403,
            ),
            (AuthError::CertificateMismatch.into(), 403),
            (AuthError::WrongCollector.into(), 403),
            (AuthError::Revoked.into(), 403),
            (AuthError::Store(StoreError::Unavailable(io())).into(), 503),
            (BatchError::Malformed("x".into()).into(), 400),
            (BatchError::UnsupportedVersion(2).into(), 400),
            (
                BatchError::CollectorMismatch {
                    body: uuid::Uuid::nil(),
                    authenticated: CollectorId::from_uuid(uuid::Uuid::nil()),
                }
                .into(),
                403,
            ),
            (
                BatchError::LimitExceeded {
                    what: "rows",
                    limit: 1,
                }
                .into(),
                413,
            ),
            (
                BatchError::WrongType {
                    family: "f".into(),
                    row: 0,
                    column: "c".into(),
                    expected: "x",
                    got: "y".into(),
                }
                .into(),
                400,
            ),
            (
                BatchError::TimestampInFuture {
                    location: "x".into(),
                    at: "t".into(),
                    max_future_s: 300,
                }
                .into(),
                400,
            ),
            (
                IngestError::Store(StoreError::Unavailable(io())).into(),
                503,
            ),
            (
                RegisterError::InvalidInput(pganalytics_domain::collector::NameError::new(
                    "name", "bad",
                ))
                .into(),
                400,
            ),
            (RegisterError::InvalidToken.into(), 401),
            (
                RegisterError::TokenRejected(CredentialError::Expired).into(),
                401,
            ),
            (
                RegisterError::TokenRejected(CredentialError::UsedUp).into(),
                401,
            ),
            (
                RegisterError::InvalidCsr(PkiError::InvalidCsr("x".into())).into(),
                400,
            ),
            (RegisterError::NameTaken("x".into()).into(), 409),
            (
                RegisterError::Store(StoreError::Unavailable(io())).into(),
                503,
            ),
            (RegisterError::Pki(PkiError::Internal(io())).into(), 500),
            (RegisterError::Token(TokenError::Signing).into(), 500),
            (RenewError::Auth(AuthError::CertificateMismatch).into(), 403),
            (
                RenewError::InvalidCsr(PkiError::InvalidCsr("x".into())).into(),
                400,
            ),
            (RenewError::Superseded.into(), 409),
            (ConfigUpdateError::Invalid("x".into()).into(), 400),
            (
                ConfigUpdateError::Store(StoreError::NotFound {
                    entity: "collector",
                })
                .into(),
                404,
            ),
            (RenewError::Pki(PkiError::Internal(io())).into(), 500),
            (RenewError::Store(StoreError::Unavailable(io())).into(), 503),
            (QueryError::UnknownFamily("x".into()).into(), 400),
            (
                QueryError::UnknownColumn {
                    family: "f".into(),
                    column: "c".into(),
                }
                .into(),
                400,
            ),
            (QueryError::InvalidRange("x".into()).into(), 400),
            (QueryError::TooLarge("x".into()).into(), 400),
            (
                QueryError::Store(StoreError::NotFound { entity: "server" }).into(),
                404,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(err.status.as_u16(), status, "{err}");
        }
    }

    #[test]
    fn unavailable_responses_carry_retry_after_and_unknown_ones_hide_the_cause() {
        let r = ApiError::from(StoreError::Unavailable(io())).error_response();
        assert_eq!(r.headers().get("Retry-After").unwrap(), "5");
        let e = ApiError::from(StoreError::Unknown(io()));
        assert!(!e.message.contains("boom"));
        let r = e.error_response();
        assert_eq!(
            r.extensions().get::<InternalCause>().map(|c| c.0.as_str()),
            Some("boom"),
            "the cause goes to the access log"
        );
    }
}
