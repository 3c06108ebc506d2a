//! Who may do what: the roles people and API tokens have, and the one permission table the
//! server checks every request against (the seeds' RBAC: admin, user, viewer).
//!
//! - **admin** manages users, API tokens, collectors, registration tokens, alert rules,
//!   notification channels and collector configuration, reads the audit log, and does
//!   everything a user does;
//! - **user** reads everything, acknowledges alerts, silences them and sets maintenance
//!   windows;
//! - **viewer** only reads.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
    Viewer,
}

/// What a request does, at the granularity roles are granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Servers, metrics, collectors, alerts, rules: anything that reads.
    Read,
    /// Acknowledge alerts, create and end silences and maintenance windows.
    AcknowledgeAlerts,
    EditAlertRules,
    ManageNotificationChannels,
    ManageUsers,
    ManageApiTokens,
    ManageCollectors,
    ManageRegistrationTokens,
    ManageCollectorConfig,
    ReadAuditLog,
    /// Retention of each family's raw rows and rollups.
    ManageRetention,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::Read,
        Permission::AcknowledgeAlerts,
        Permission::EditAlertRules,
        Permission::ManageNotificationChannels,
        Permission::ManageUsers,
        Permission::ManageApiTokens,
        Permission::ManageCollectors,
        Permission::ManageRegistrationTokens,
        Permission::ManageCollectorConfig,
        Permission::ReadAuditLog,
        Permission::ManageRetention,
    ];

    /// The name the API shows (`/auth/me`, errors, the OpenAPI document, audit details).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::AcknowledgeAlerts => "acknowledge_alerts",
            Self::EditAlertRules => "edit_alert_rules",
            Self::ManageNotificationChannels => "manage_notification_channels",
            Self::ManageUsers => "manage_users",
            Self::ManageApiTokens => "manage_api_tokens",
            Self::ManageCollectors => "manage_collectors",
            Self::ManageRegistrationTokens => "manage_registration_tokens",
            Self::ManageCollectorConfig => "manage_collector_config",
            Self::ReadAuditLog => "read_audit_log",
            Self::ManageRetention => "manage_retention",
        }
    }
}

/// The permission table: what each role is granted.
#[rustfmt::skip]
const GRANTS: &[(Role, &[Permission])] = &[
    (Role::Admin, &Permission::ALL),
    (Role::User, &[Permission::Read, Permission::AcknowledgeAlerts]),
    (Role::Viewer, &[Permission::Read]),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: admin, user or viewer")]
pub struct UnknownRole(pub String);

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::User, Role::Viewer];

    pub fn allows(self, permission: Permission) -> bool {
        GRANTS
            .iter()
            .any(|(role, granted)| *role == self && granted.contains(&permission))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownRole> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// What a caller must present to be let through to an operation: the access column of the
/// server's route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, login, refresh, a collector's public certificate).
    Public,
    /// A registration token (agent enrolment); the enrolment itself checks it.
    RegistrationToken,
    /// A collector: its client certificate and its collector token, both its own.
    Collector,
    /// A collector's client certificate alone (a fresh token, a certificate renewal): the
    /// operation checks the certificate is that of the collector it names.
    CollectorCertificate,
    /// A person or script granted this permission.
    Person(Permission),
}

impl Access {
    /// Whether the operation spends the collectors' rate budget rather than the people's.
    pub fn is_ingest(self) -> bool {
        matches!(
            self,
            Self::Collector | Self::CollectorCertificate | Self::RegistrationToken
        )
    }
}

/// Who is making a request, once authenticated, and the role it acts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person logged in: their access token names the session.
    User {
        id: uuid::Uuid,
        username: String,
        session: uuid::Uuid,
    },
    /// A script or a service with an API token.
    ApiToken {
        id: uuid::Uuid,
        prefix: String,
        owner: Option<uuid::Uuid>,
    },
}

impl Principal {
    pub fn allows(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    /// The name what it does is recorded under (an acknowledgement, a silence): the user's
    /// name, or the API token's label.
    pub fn author(&self) -> String {
        match &self.kind {
            PrincipalKind::User { username, .. } => username.clone(),
            PrincipalKind::ApiToken { .. } => self.label(),
        }
    }

    /// How the principal appears in logs and the audit log: `user:alice`, `token:pga_x1y2z3w4`.
    pub fn label(&self) -> String {
        match &self.kind {
            PrincipalKind::User { username, .. } => format!("user:{username}"),
            PrincipalKind::ApiToken { prefix, .. } => format!("token:{prefix}"),
        }
    }

    pub fn actor(&self) -> crate::audit::Actor {
        use crate::audit::{Actor, ActorKind};
        match &self.kind {
            PrincipalKind::User { id, username, .. } => Actor {
                kind: ActorKind::User,
                id: Some(id.to_string()),
                name: Some(username.clone()),
                role: Some(self.role),
            },
            PrincipalKind::ApiToken { id, prefix, .. } => Actor {
                kind: ActorKind::ApiToken,
                id: Some(id.to_string()),
                name: Some(prefix.clone()),
                role: Some(self.role),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_are_their_serialized_names() {
        for p in Permission::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }

    #[test]
    fn the_permission_matrix_is_the_documented_one() {
        use Permission as P;
        let expected = |role: Role, p: Permission| match role {
            Role::Admin => true,
            Role::User => matches!(p, P::Read | P::AcknowledgeAlerts),
            Role::Viewer => p == P::Read,
        };
        for role in Role::ALL {
            for p in Permission::ALL {
                assert_eq!(role.allows(p), expected(role, p), "{role:?} × {p:?}");
            }
        }
    }

    #[test]
    fn every_role_is_in_the_table_once() {
        for role in Role::ALL {
            assert_eq!(GRANTS.iter().filter(|(r, _)| *r == role).count(), 1);
        }
    }

    #[test]
    fn roles_round_trip_through_their_names_and_others_are_refused() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("Admin").is_err());
    }
}
