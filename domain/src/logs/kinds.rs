//! The table of event kinds: each kind is one or more of PostgreSQL's message templates
//! (the English `msgid`s of its gettext catalogs, per release where they differ), in a
//! category, with what each argument of the template is: a value to keep, a typed field,
//! or something to redact and under which class.

/// What an event is about, broadly. Every kind belongs to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Start, shutdown, reload, crashes and restarts.
    Server,
    /// Connections, disconnections and authentication.
    Connection,
    /// Checkpoints, restartpoints and WAL.
    Checkpoint,
    /// WAL archiving and restoring from the archive.
    Archive,
    /// Streaming and logical replication, recovery, standbys.
    Replication,
    /// Autovacuum, autoanalyze, wraparound.
    Vacuum,
    /// Lock waits, deadlocks, lock timeouts, serialization failures.
    Lock,
    /// Logged statements, durations, plans, cancellations and timeouts.
    Statement,
    /// Errors the application caused, by SQLSTATE class.
    Application,
    /// Settings and configuration files.
    Config,
    /// Disk, memory, files and processes.
    Resource,
    /// PgBouncer: logins, pooler errors, server connections, its statistics.
    Pooler,
    /// Anything else (a message no template matched and without a SQLSTATE).
    Other,
}

impl Category {
    pub const ALL: [Category; 13] = [
        Self::Server,
        Self::Connection,
        Self::Checkpoint,
        Self::Archive,
        Self::Replication,
        Self::Vacuum,
        Self::Lock,
        Self::Statement,
        Self::Application,
        Self::Config,
        Self::Resource,
        Self::Pooler,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Connection => "connection",
            Self::Checkpoint => "checkpoint",
            Self::Archive => "archive",
            Self::Replication => "replication",
            Self::Vacuum => "vacuum",
            Self::Lock => "lock",
            Self::Statement => "statement",
            Self::Application => "application",
            Self::Config => "config",
            Self::Resource => "resource",
            Self::Pooler => "pooler",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What may be taken out of a message before it leaves the host (in the manner of
/// pganalyze's `filter_log_secret`). Each class is on (filtered) or off in the agent's
/// configuration; by default every class that can carry user data is filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RedactClass {
    /// Passwords and other secrets.
    Credential,
    /// The text a parser choked on (`syntax error at or near "…"`, bad JSON).
    ParsingError,
    /// Statement text: filtered means its literals are removed by the SQL lexer.
    StatementText,
    /// Bind parameters of a statement.
    StatementParameter,
    /// Values from or for table rows (`invalid input syntax …: "5x"`, key values).
    TableData,
    /// Operational details: file paths, host names, error texts of the C library.
    Ops,
    /// Quoted values and numbers of messages no template identifies.
    Unidentified,
}

impl RedactClass {
    pub const ALL: [RedactClass; 7] = [
        Self::Credential,
        Self::ParsingError,
        Self::StatementText,
        Self::StatementParameter,
        Self::TableData,
        Self::Ops,
        Self::Unidentified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credential => "credential",
            Self::ParsingError => "parsing_error",
            Self::StatementText => "statement_text",
            Self::StatementParameter => "statement_parameter",
            Self::TableData => "table_data",
            Self::Ops => "ops",
            Self::Unidentified => "unidentified",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Filtered unless the configuration says otherwise: everything that can carry user
    /// data. Operational details (paths, hosts, C library errors) are kept.
    pub fn filtered_by_default(self) -> bool {
        self != Self::Ops
    }
}

/// A typed field of an event (a column of `pg_log_event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A table (`db.schema.table` from its parts).
    Relation,
    LockMode,
    LockObject,
    /// Process ids (the blocking, or those in a deadlock), comma-separated.
    Pids,
    Signal,
    /// The process the message is about (the crashed one, the waiting one).
    TargetPid,
    /// The crashed or failed statement (redacted as statement text).
    Statement,
    AuthMethod,
    Slot,
    File,
    Buffers,
    /// Seconds, stored as milliseconds.
    WriteSeconds,
    SyncSeconds,
    DistanceKb,
    PagesRemoved,
    TuplesRemoved,
    TuplesFrozen,
    WalBytes,
    IoReadMs,
    IoWriteMs,
    TempBytes,
    /// The event's duration in milliseconds.
    DurationMs,
    /// The event's duration in seconds (stored in milliseconds).
    DurationSeconds,
}

/// What one argument of a template is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Kept as logged: numbers, keywords, object names.
    Keep,
    /// Kept, and read into a typed field.
    Field(Field),
    /// Redacted under a class.
    Redact(RedactClass),
    /// Statement text: redacted by the SQL lexer (statement_text), kept as a field when
    /// the kind says so.
    Sql,
}

const K: Role = Role::Keep;
const D: Role = Role::Redact(RedactClass::TableData);
const P: Role = Role::Redact(RedactClass::ParsingError);
const O: Role = Role::Redact(RedactClass::Ops);
const U: Role = Role::Redact(RedactClass::Unidentified);
const S: Role = Role::Sql;
const fn f(field: Field) -> Role {
    Role::Field(field)
}
const REL: Role = f(Field::Relation);
const TPID: Role = f(Field::TargetPid);
const FILE: Role = f(Field::File);
const SLOT: Role = f(Field::Slot);
const DUR: Role = f(Field::DurationMs);

/// One template of a kind: the English `msgid` (and its plural, for `ngettext` messages)
/// and the roles of its arguments in order.
#[derive(Debug, Clone, Copy)]
pub struct Tpl {
    pub msgid: &'static str,
    pub plural: Option<&'static str>,
    pub args: &'static [Role],
    /// An argument that must be one of these (translated) words for the template to
    /// apply: `%s %s%s%s: %s` is a logged statement only when its first word is `execute`.
    pub guard: Option<(usize, &'static [&'static str])>,
}

const fn t(msgid: &'static str, args: &'static [Role]) -> Tpl {
    Tpl {
        msgid,
        plural: None,
        args,
        guard: None,
    }
}

const fn tn(msgid: &'static str, plural: &'static str, args: &'static [Role]) -> Tpl {
    Tpl {
        msgid,
        plural: Some(plural),
        args,
        guard: None,
    }
}

const fn tg(
    msgid: &'static str,
    args: &'static [Role],
    arg: usize,
    words: &'static [&'static str],
) -> Tpl {
    Tpl {
        msgid,
        plural: None,
        args,
        guard: Some((arg, words)),
    }
}

/// What `exec_execute_message` prints before a portal's name.
const EXECUTE: &[&str] = &["execute", "execute fetch from"];

/// A kind of event.
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    pub name: &'static str,
    pub category: Category,
    pub templates: &'static [Tpl],
}

const fn k(name: &'static str, category: Category, templates: &'static [Tpl]) -> KindSpec {
    KindSpec {
        name,
        category,
        templates,
    }
}

use Category as C;

/// `checkpoint complete` / `restartpoint complete` arguments (15): buffers, percent,
/// added, removed, recycled, write, sync, total, files, longest, average, distance,
/// estimate (the `.%03d` halves take no role of their own).
const CHECKPOINT_15: &[Role] = &[
    f(Field::Buffers),
    K,
    K,
    K,
    K,
    f(Field::WriteSeconds),
    K,
    f(Field::SyncSeconds),
    K,
    f(Field::DurationSeconds),
    K,
    K,
    K,
    K,
    K,
    K,
    f(Field::DistanceKb),
    K,
];
/// 16 and 17 add the LSNs.
const CHECKPOINT_16: &[Role] = &[
    f(Field::Buffers),
    K,
    K,
    K,
    K,
    f(Field::WriteSeconds),
    K,
    f(Field::SyncSeconds),
    K,
    f(Field::DurationSeconds),
    K,
    K,
    K,
    K,
    K,
    K,
    f(Field::DistanceKb),
    K,
    K,
    K,
    K,
    K,
];
/// 18 adds SLRU buffers after the buffers.
const CHECKPOINT_18: &[Role] = &[
    f(Field::Buffers),
    K,
    K,
    K,
    K,
    K,
    f(Field::WriteSeconds),
    K,
    f(Field::SyncSeconds),
    K,
    f(Field::DurationSeconds),
    K,
    K,
    K,
    K,
    K,
    K,
    f(Field::DistanceKb),
    K,
    K,
    K,
    K,
    K,
];
const LOCK_WAIT: &[Role] = &[TPID, f(Field::LockMode), f(Field::LockObject), DUR, K];
const VACUUM: &[Role] = &[REL, REL, REL, K];
const DURATION_STATEMENT: &[Role] = &[DUR, S];

/// The kinds, in the order they are tried when two templates could match the same text
/// (the more specific template first within a lead word, see [`super::catalog`]).
pub static KINDS: &[KindSpec] = &[
    // --- Server lifecycle and crashes -----------------------------------------------
    k("server_starting", C::Server, &[t("starting %s", &[K])]),
    k(
        "server_listening",
        C::Server,
        &[
            t("listening on %s address \"%s\", port %d", &[K, O, K]),
            t("listening on Unix socket \"%s\"", &[O]),
        ],
    ),
    k(
        "server_ready",
        C::Server,
        &[t("database system is ready to accept connections", &[])],
    ),
    k(
        "server_ready_read_only",
        C::Server,
        &[t(
            "database system is ready to accept read-only connections",
            &[],
        )],
    ),
    k(
        "server_was_shut_down",
        C::Server,
        &[
            t("database system was shut down at %s", &[K]),
            t("database system was shut down in recovery at %s", &[K]),
        ],
    ),
    k(
        "server_crash_recovery",
        C::Server,
        &[t(
            "database system was not properly shut down; automatic recovery in progress",
            &[],
        )],
    ),
    k(
        "server_interrupted",
        C::Server,
        &[
            t("database system was interrupted; last known up at %s", &[K]),
            t(
                "database system was interrupted while in recovery at %s",
                &[K],
            ),
            t(
                "database system was interrupted while in recovery at log time %s",
                &[K],
            ),
        ],
    ),
    k(
        "shutdown_smart",
        C::Server,
        &[t("received smart shutdown request", &[])],
    ),
    k(
        "shutdown_fast",
        C::Server,
        &[t("received fast shutdown request", &[])],
    ),
    k(
        "shutdown_immediate",
        C::Server,
        &[t("received immediate shutdown request", &[])],
    ),
    k(
        "aborting_transactions",
        C::Server,
        &[t("aborting any active transactions", &[])],
    ),
    k("shutting_down", C::Server, &[t("shutting down", &[])]),
    k(
        "server_shut_down",
        C::Server,
        &[t("database system is shut down", &[])],
    ),
    k(
        "server_reload",
        C::Server,
        &[t("received SIGHUP, reloading configuration files", &[])],
    ),
    k(
        "process_crashed",
        C::Server,
        &[
            t(
                "%s (PID %d) was terminated by signal %d: %s",
                &[K, TPID, f(Field::Signal), K],
            ),
            t(
                "%s (PID %d) was terminated by exception 0x%X",
                &[K, TPID, K],
            ),
        ],
    ),
    k(
        "process_exited",
        C::Server,
        &[t("%s (PID %d) exited with exit code %d", &[K, TPID, K])],
    ),
    k(
        "terminating_other_processes",
        C::Server,
        &[t("terminating any other active server processes", &[])],
    ),
    k(
        "server_reinitializing",
        C::Server,
        &[t("all server processes terminated; reinitializing", &[])],
    ),
    k(
        "crash_of_another_process",
        C::Server,
        &[t(
            "terminating connection because of crash of another server process",
            &[],
        )],
    ),
    k(
        "restart_after_crash_off",
        C::Server,
        &[t("shutting down because restart_after_crash is off", &[])],
    ),
    k(
        "startup_process_failed",
        C::Server,
        &[t("shutting down due to startup process failure", &[])],
    ),
    k(
        "postmaster_exited",
        C::Server,
        &[t(
            "terminating connection due to unexpected postmaster exit",
            &[],
        )],
    ),
    k(
        "immediate_shutdown_termination",
        C::Server,
        &[t(
            "terminating connection due to immediate shutdown command",
            &[],
        )],
    ),
    k(
        "server_not_ready",
        C::Server,
        &[
            t("the database system is starting up", &[]),
            t("the database system is shutting down", &[]),
            t("the database system is in recovery mode", &[]),
            t("the database system is not yet accepting connections", &[]),
            t("the database system is not accepting connections", &[]),
        ],
    ),
    k(
        "background_worker_terminated",
        C::Server,
        &[
            t(
                "terminating background worker \"%s\" due to administrator command",
                &[K],
            ),
            t(
                "terminating autovacuum process due to administrator command",
                &[],
            ),
        ],
    ),
    // --- Connections and authentication ---------------------------------------------
    k(
        "connection_received",
        C::Connection,
        &[
            t("connection received: host=%s port=%s", &[O, K]),
            t("connection received: host=%s", &[O]),
        ],
    ),
    k(
        "connection_authenticated",
        C::Connection,
        &[
            t(
                "connection authenticated: identity=\"%s\" method=%s (%s:%d)",
                &[K, f(Field::AuthMethod), O, K],
            ),
            t(
                "connection authenticated: user=\"%s\" method=%s (%s:%d)",
                &[K, f(Field::AuthMethod), O, K],
            ),
        ],
    ),
    k(
        "connection_authorized",
        C::Connection,
        &[t("connection authorized: user=%s", &[K])],
    ),
    k(
        "replication_connection_authorized",
        C::Connection,
        &[t("replication connection authorized: user=%s", &[K])],
    ),
    k(
        "disconnection",
        C::Connection,
        &[t(
            "disconnection: session time: %d:%02d:%02d.%03d user=%s database=%s host=%s%s%s",
            &[K, K, K, K, K, K, O, K, K],
        )],
    ),
    k(
        "password_failed",
        C::Connection,
        &[t("password authentication failed for user \"%s\"", &[K])],
    ),
    k(
        "peer_failed",
        C::Connection,
        &[t("Peer authentication failed for user \"%s\"", &[K])],
    ),
    k(
        "ident_failed",
        C::Connection,
        &[t("Ident authentication failed for user \"%s\"", &[K])],
    ),
    k(
        "certificate_failed",
        C::Connection,
        &[
            t("certificate authentication failed for user \"%s\"", &[K]),
            t(
                "certificate authentication failed for user \"%s\": client certificate contains no user name",
                &[K],
            ),
        ],
    ),
    k(
        "authentication_failed",
        C::Connection,
        &[
            t("\"trust\" authentication failed for user \"%s\"", &[K]),
            t("LDAP authentication failed for user \"%s\"", &[K]),
            t("PAM authentication failed for user \"%s\"", &[K]),
            t("RADIUS authentication failed for user \"%s\"", &[K]),
            t("GSSAPI authentication failed for user \"%s\"", &[K]),
            t("BSD authentication failed for user \"%s\"", &[K]),
            t("authentication failed for user \"%s\": host rejected", &[K]),
            t(
                "authentication failed for user \"%s\": invalid authentication method",
                &[K],
            ),
        ],
    ),
    k(
        "no_hba_entry",
        C::Connection,
        &[
            t(
                "no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s",
                &[O, K, K, K],
            ),
            t(
                "no pg_hba.conf entry for replication connection from host \"%s\", user \"%s\", %s",
                &[O, K, K],
            ),
        ],
    ),
    k(
        "hba_rejected",
        C::Connection,
        &[
            t(
                "pg_hba.conf rejects connection for host \"%s\", user \"%s\", database \"%s\", %s",
                &[O, K, K, K],
            ),
            t(
                "pg_hba.conf rejects replication connection for host \"%s\", user \"%s\", %s",
                &[O, K, K],
            ),
        ],
    ),
    k(
        "role_missing",
        C::Connection,
        &[t("role \"%s\" does not exist", &[K])],
    ),
    k(
        "database_missing",
        C::Connection,
        &[t("database \"%s\" does not exist", &[K])],
    ),
    k(
        "database_not_accepting",
        C::Connection,
        &[t(
            "database \"%s\" is not currently accepting connections",
            &[K],
        )],
    ),
    k(
        "too_many_clients",
        C::Connection,
        &[t("sorry, too many clients already", &[])],
    ),
    k(
        "reserved_slots",
        C::Connection,
        &[
            t(
                "remaining connection slots are reserved for non-replication superuser connections",
                &[],
            ),
            t(
                "remaining connection slots are reserved for roles with the %s attribute",
                &[K],
            ),
            t(
                "remaining connection slots are reserved for roles with privileges of the \"%s\" role",
                &[K],
            ),
        ],
    ),
    k(
        "too_many_connections_database",
        C::Connection,
        &[t("too many connections for database \"%s\"", &[K])],
    ),
    k(
        "too_many_connections_role",
        C::Connection,
        &[t("too many connections for role \"%s\"", &[K])],
    ),
    k(
        "client_receive_failed",
        C::Connection,
        &[t("could not receive data from client: %m", &[])],
    ),
    k(
        "client_send_failed",
        C::Connection,
        &[t("could not send data to client: %m", &[])],
    ),
    k(
        "client_eof_in_transaction",
        C::Connection,
        &[t(
            "unexpected EOF on client connection with an open transaction",
            &[],
        )],
    ),
    k(
        "incomplete_startup_packet",
        C::Connection,
        &[t("incomplete startup packet", &[])],
    ),
    k(
        "ssl_accept_failed",
        C::Connection,
        &[
            t("could not accept SSL connection: EOF detected", &[]),
            t("could not accept SSL connection: %s", &[U]),
        ],
    ),
    k("ssl_error", C::Connection, &[t("SSL error: %s", &[U])]),
    k(
        "terminated_by_administrator",
        C::Connection,
        &[t(
            "terminating connection due to administrator command",
            &[],
        )],
    ),
    // --- Checkpoints and WAL --------------------------------------------------------
    k(
        "checkpoint_starting",
        C::Checkpoint,
        &[t(
            "checkpoint starting:%s%s%s%s%s%s%s%s",
            &[K, K, K, K, K, K, K, K],
        )],
    ),
    k(
        "checkpoint_complete",
        C::Checkpoint,
        &[
            t(
                "checkpoint complete: wrote %d buffers (%.1f%%); %d WAL file(s) added, %d removed, %d recycled; write=%ld.%03d s, sync=%ld.%03d s, total=%ld.%03d s; sync files=%d, longest=%ld.%03d s, average=%ld.%03d s; distance=%d kB, estimate=%d kB; lsn=%X/%X, redo lsn=%X/%X",
                CHECKPOINT_16,
            ),
            t(
                "checkpoint complete: wrote %d buffers (%.1f%%), wrote %d SLRU buffers; %d WAL file(s) added, %d removed, %d recycled; write=%ld.%03d s, sync=%ld.%03d s, total=%ld.%03d s; sync files=%d, longest=%ld.%03d s, average=%ld.%03d s; distance=%d kB, estimate=%d kB; lsn=%X/%X, redo lsn=%X/%X",
                CHECKPOINT_18,
            ),
            t(
                "checkpoint complete: wrote %d buffers (%.1f%%); %d WAL file(s) added, %d removed, %d recycled; write=%ld.%03d s, sync=%ld.%03d s, total=%ld.%03d s; sync files=%d, longest=%ld.%03d s, average=%ld.%03d s; distance=%d kB, estimate=%d kB",
                CHECKPOINT_15,
            ),
        ],
    ),
    k(
        "restartpoint_starting",
        C::Checkpoint,
        &[t(
            "restartpoint starting:%s%s%s%s%s%s%s%s",
            &[K, K, K, K, K, K, K, K],
        )],
    ),
    k(
        "restartpoint_complete",
        C::Checkpoint,
        &[
            t(
                "restartpoint complete: wrote %d buffers (%.1f%%); %d WAL file(s) added, %d removed, %d recycled; write=%ld.%03d s, sync=%ld.%03d s, total=%ld.%03d s; sync files=%d, longest=%ld.%03d s, average=%ld.%03d s; distance=%d kB, estimate=%d kB; lsn=%X/%X, redo lsn=%X/%X",
                CHECKPOINT_16,
            ),
            t(
                "restartpoint complete: wrote %d buffers (%.1f%%), wrote %d SLRU buffers; %d WAL file(s) added, %d removed, %d recycled; write=%ld.%03d s, sync=%ld.%03d s, total=%ld.%03d s; sync files=%d, longest=%ld.%03d s, average=%ld.%03d s; distance=%d kB, estimate=%d kB; lsn=%X/%X, redo lsn=%X/%X",
                CHECKPOINT_18,
            ),
            t(
                "restartpoint complete: wrote %d buffers (%.1f%%); %d WAL file(s) added, %d removed, %d recycled; write=%ld.%03d s, sync=%ld.%03d s, total=%ld.%03d s; sync files=%d, longest=%ld.%03d s, average=%ld.%03d s; distance=%d kB, estimate=%d kB",
                CHECKPOINT_15,
            ),
        ],
    ),
    k(
        "checkpoints_too_frequent",
        C::Checkpoint,
        &[tn(
            "checkpoints are occurring too frequently (%d second apart)",
            "checkpoints are occurring too frequently (%d seconds apart)",
            &[K],
        )],
    ),
    k(
        "checkpoint_request_failed",
        C::Checkpoint,
        &[t("checkpoint request failed", &[])],
    ),
    k(
        "recovery_restart_point",
        C::Checkpoint,
        &[t("recovery restart point at %X/%X", &[K, K])],
    ),
    // --- Archiving ------------------------------------------------------------------
    k(
        "archive_command_failed",
        C::Archive,
        &[t("archive command failed with exit code %d", &[K])],
    ),
    k(
        "archive_command_signaled",
        C::Archive,
        &[
            t(
                "archive command was terminated by signal %d: %s",
                &[f(Field::Signal), K],
            ),
            t("archive command was terminated by exception 0x%X", &[K]),
        ],
    ),
    k(
        "archive_failed_too_many_times",
        C::Archive,
        &[t(
            "archiving write-ahead log file \"%s\" failed too many times, will try again later",
            &[FILE],
        )],
    ),
    k(
        "archive_not_configured",
        C::Archive,
        &[t(
            "archive_mode enabled, yet archiving is not configured",
            &[],
        )],
    ),
    k(
        "restored_from_archive",
        C::Archive,
        &[t("restored log file \"%s\" from archive", &[FILE])],
    ),
    // --- Replication and recovery ---------------------------------------------------
    k(
        "redo_starts",
        C::Replication,
        &[t("redo starts at %X/%X", &[K, K])],
    ),
    k(
        "redo_done",
        C::Replication,
        &[t("redo done at %X/%X system usage: %s", &[K, K, K])],
    ),
    k(
        "redo_in_progress",
        C::Replication,
        &[t(
            "redo in progress, elapsed time: %ld.%02d s, current LSN: %X/%X",
            &[K, K, K, K],
        )],
    ),
    k(
        "redo_not_required",
        C::Replication,
        &[t("redo is not required", &[])],
    ),
    k(
        "consistent_recovery_state",
        C::Replication,
        &[t("consistent recovery state reached at %X/%X", &[K, K])],
    ),
    k(
        "standby_mode",
        C::Replication,
        &[t("entering standby mode", &[])],
    ),
    k(
        "archive_recovery_starting",
        C::Replication,
        &[t("starting archive recovery", &[])],
    ),
    k(
        "archive_recovery_complete",
        C::Replication,
        &[t("archive recovery complete", &[])],
    ),
    k(
        "point_in_time_recovery",
        C::Replication,
        &[
            t("starting point-in-time recovery to %s", &[K]),
            t("starting point-in-time recovery to XID %u", &[K]),
            t(
                "starting point-in-time recovery to earliest consistent point",
                &[],
            ),
        ],
    ),
    k(
        "streaming_started",
        C::Replication,
        &[t(
            "started streaming WAL from primary at %X/%X on timeline %u",
            &[K, K, K],
        )],
    ),
    k(
        "promote_requested",
        C::Replication,
        &[t("received promote request", &[])],
    ),
    k(
        "new_timeline",
        C::Replication,
        &[t("selected new timeline ID: %u", &[K])],
    ),
    k(
        "recovery_paused",
        C::Replication,
        &[t("recovery has paused", &[])],
    ),
    k(
        "replication_terminated",
        C::Replication,
        &[t("replication terminated by primary server", &[])],
    ),
    k(
        "wal_stream_failed",
        C::Replication,
        &[t("could not receive data from WAL stream: %s", &[O])],
    ),
    k(
        "primary_connect_failed",
        C::Replication,
        &[t("could not connect to the primary server: %s", &[O])],
    ),
    k(
        "wal_segment_removed",
        C::Replication,
        &[t(
            "requested WAL segment %s has already been removed",
            &[FILE],
        )],
    ),
    k(
        "invalid_wal_record",
        C::Replication,
        &[t(
            "invalid record length at %X/%X: wanted %u, got %u",
            &[K, K, K, K],
        )],
    ),
    k(
        "walsender_timeout",
        C::Replication,
        &[t(
            "terminating walsender process due to replication timeout",
            &[],
        )],
    ),
    k(
        "walreceiver_timeout",
        C::Replication,
        &[t("terminating walreceiver due to timeout", &[])],
    ),
    k(
        "walsender_promotion",
        C::Replication,
        &[t("terminating walsender process after promotion", &[])],
    ),
    k(
        "recovery_conflict_cancel",
        C::Replication,
        &[t("canceling statement due to conflict with recovery", &[])],
    ),
    k(
        "recovery_conflict_terminate",
        C::Replication,
        &[t(
            "terminating connection due to conflict with recovery",
            &[],
        )],
    ),
    k(
        "slot_missing",
        C::Replication,
        &[t("replication slot \"%s\" does not exist", &[SLOT])],
    ),
    k(
        "slot_exists",
        C::Replication,
        &[t("replication slot \"%s\" already exists", &[SLOT])],
    ),
    k(
        "slot_active",
        C::Replication,
        &[t(
            "replication slot \"%s\" is active for PID %d",
            &[SLOT, TPID],
        )],
    ),
    k(
        "logical_decoding_starting",
        C::Replication,
        &[t("starting logical decoding for slot \"%s\"", &[SLOT])],
    ),
    k(
        "subscription_apply_started",
        C::Replication,
        &[t(
            "logical replication apply worker for subscription \"%s\" has started",
            &[K],
        )],
    ),
    k(
        "subscription_table_synced",
        C::Replication,
        &[t(
            "logical replication table synchronization worker for subscription \"%s\", table \"%s\" has finished",
            &[K, REL],
        )],
    ),
    // --- Autovacuum and vacuum ------------------------------------------------------
    k(
        "autovacuum",
        C::Vacuum,
        &[
            t(
                "automatic vacuum of table \"%s.%s.%s\": index scans: %d\n",
                VACUUM,
            ),
            t("automatic vacuum of table \"%s.%s.%s\"", &[REL, REL, REL]),
        ],
    ),
    k(
        "autovacuum_aggressive",
        C::Vacuum,
        &[t(
            "automatic aggressive vacuum of table \"%s.%s.%s\": index scans: %d\n",
            VACUUM,
        )],
    ),
    k(
        "autovacuum_wraparound",
        C::Vacuum,
        &[
            t(
                "automatic aggressive vacuum to prevent wraparound of table \"%s.%s.%s\": index scans: %d\n",
                VACUUM,
            ),
            t(
                "automatic vacuum to prevent wraparound of table \"%s.%s.%s\": index scans: %d\n",
                VACUUM,
            ),
        ],
    ),
    k(
        "autoanalyze",
        C::Vacuum,
        &[
            t(
                "automatic analyze of table \"%s.%s.%s\"\n",
                &[REL, REL, REL],
            ),
            t("automatic analyze of table \"%s.%s.%s\"", &[REL, REL, REL]),
        ],
    ),
    k(
        "vacuum_skipped_lock",
        C::Vacuum,
        &[t(
            "skipping vacuum of \"%s\" --- lock not available",
            &[REL],
        )],
    ),
    k(
        "analyze_skipped_lock",
        C::Vacuum,
        &[t(
            "skipping analyze of \"%s\" --- lock not available",
            &[REL],
        )],
    ),
    k(
        "vacuum_truncate_suspended",
        C::Vacuum,
        &[t(
            "table \"%s\": suspending truncate due to conflicting lock request",
            &[REL],
        )],
    ),
    k(
        "autovacuum_canceled",
        C::Vacuum,
        &[t("canceling autovacuum task", &[])],
    ),
    k(
        "orphan_temp_table_dropped",
        C::Vacuum,
        &[t(
            "autovacuum: dropping orphan temp table \"%s.%s.%s\"",
            &[REL, REL, REL],
        )],
    ),
    k(
        "wraparound_warning",
        C::Vacuum,
        &[
            t(
                "database \"%s\" must be vacuumed within %u transactions",
                &[K, K],
            ),
            t(
                "database with OID %u must be vacuumed within %u transactions",
                &[K, K],
            ),
        ],
    ),
    k(
        "multixact_wraparound_warning",
        C::Vacuum,
        &[
            tn(
                "database \"%s\" must be vacuumed before %u more MultiXactId is used",
                "database \"%s\" must be vacuumed before %u more MultiXactIds are used",
                &[K, K],
            ),
            tn(
                "database with OID %u must be vacuumed before %u more MultiXactId is used",
                "database with OID %u must be vacuumed before %u more MultiXactIds are used",
                &[K, K],
            ),
        ],
    ),
    k(
        "wraparound_stop",
        C::Vacuum,
        &[
            t(
                "database is not accepting commands to avoid wraparound data loss in database \"%s\"",
                &[K],
            ),
            t(
                "database is not accepting commands to avoid wraparound data loss in database with OID %u",
                &[K],
            ),
            t(
                "database is not accepting commands that generate new MultiXactIds to avoid wraparound data loss in database \"%s\"",
                &[K],
            ),
        ],
    ),
    k(
        "oldest_xmin_far_past",
        C::Vacuum,
        &[t("oldest xmin is far in the past", &[])],
    ),
    // --- Locks and deadlocks --------------------------------------------------------
    k(
        "lock_waiting",
        C::Lock,
        &[t(
            "process %d still waiting for %s on %s after %ld.%03d ms",
            LOCK_WAIT,
        )],
    ),
    k(
        "lock_acquired",
        C::Lock,
        &[t(
            "process %d acquired %s on %s after %ld.%03d ms",
            LOCK_WAIT,
        )],
    ),
    k(
        "deadlock_avoided",
        C::Lock,
        &[t(
            "process %d avoided deadlock for %s on %s by rearranging queue order after %ld.%03d ms",
            LOCK_WAIT,
        )],
    ),
    k(
        "deadlock_detected_while_waiting",
        C::Lock,
        &[t(
            "process %d detected deadlock while waiting for %s on %s after %ld.%03d ms",
            LOCK_WAIT,
        )],
    ),
    k("deadlock", C::Lock, &[t("deadlock detected", &[])]),
    k(
        "lock_timeout",
        C::Lock,
        &[t("canceling statement due to lock timeout", &[])],
    ),
    k(
        "lock_not_available",
        C::Lock,
        &[
            t("could not obtain lock on relation \"%s\"", &[REL]),
            t("could not obtain lock on relation \"%s.%s\"", &[REL, REL]),
            t("could not obtain lock on row in relation \"%s\"", &[REL]),
        ],
    ),
    k(
        "serialization_failure",
        C::Lock,
        &[
            t("could not serialize access due to concurrent update", &[]),
            t("could not serialize access due to concurrent delete", &[]),
            t(
                "could not serialize access due to read/write dependencies among transactions",
                &[],
            ),
        ],
    ),
    // --- Statements and timeouts ----------------------------------------------------
    k(
        "plan",
        C::Statement,
        &[t("duration: %s ms  plan:\n%s", &[DUR, S])],
    ),
    k(
        "slow_statement",
        C::Statement,
        &[
            t("duration: %s ms  statement: %s", DURATION_STATEMENT),
            t("duration: %s ms  parse %s: %s", &[DUR, K, S]),
            t("duration: %s ms  bind %s%s%s: %s", &[DUR, K, K, K, S]),
            tg(
                "duration: %s ms  %s %s%s%s: %s",
                &[DUR, K, K, K, K, S],
                1,
                EXECUTE,
            ),
            t(
                "duration: %s ms  fastpath function call: \"%s\" (OID %u)",
                &[DUR, K, K],
            ),
        ],
    ),
    k("duration", C::Statement, &[t("duration: %s ms", &[DUR])]),
    k(
        "statement",
        C::Statement,
        &[
            t("statement: %s", &[S]),
            tg("%s %s%s%s: %s", &[K, K, K, K, S], 0, EXECUTE),
        ],
    ),
    k(
        "statement_timeout",
        C::Statement,
        &[t("canceling statement due to statement timeout", &[])],
    ),
    k(
        "statement_canceled",
        C::Statement,
        &[t("canceling statement due to user request", &[])],
    ),
    k(
        "idle_in_transaction_timeout",
        C::Statement,
        &[t(
            "terminating connection due to idle-in-transaction timeout",
            &[],
        )],
    ),
    k(
        "idle_session_timeout",
        C::Statement,
        &[t("terminating connection due to idle-session timeout", &[])],
    ),
    k(
        "transaction_aborted",
        C::Statement,
        &[t(
            "current transaction is aborted, commands ignored until end of transaction block",
            &[],
        )],
    ),
    k(
        "no_transaction",
        C::Statement,
        &[t("there is no transaction in progress", &[])],
    ),
    k(
        "transaction_in_progress",
        C::Statement,
        &[t("there is already a transaction in progress", &[])],
    ),
    k(
        "prepared_statement_missing",
        C::Statement,
        &[t("prepared statement \"%s\" does not exist", &[K])],
    ),
    k(
        "cursor_missing",
        C::Statement,
        &[t("cursor \"%s\" does not exist", &[K])],
    ),
    // --- Application errors ---------------------------------------------------------
    k(
        "invalid_input_syntax",
        C::Application,
        &[
            t("invalid input syntax for type %s: \"%s\"", &[K, D]),
            t("invalid input syntax for type %s", &[K]),
        ],
    ),
    k(
        "value_out_of_range",
        C::Application,
        &[t("value \"%s\" is out of range for type %s", &[D, K])],
    ),
    k(
        "integer_out_of_range",
        C::Application,
        &[t("integer out of range", &[])],
    ),
    k(
        "numeric_overflow",
        C::Application,
        &[t("numeric field overflow", &[])],
    ),
    k(
        "value_too_long",
        C::Application,
        &[
            t("value too long for type character varying(%d)", &[K]),
            t("value too long for type character(%d)", &[K]),
        ],
    ),
    k(
        "division_by_zero",
        C::Application,
        &[t("division by zero", &[])],
    ),
    k(
        "invalid_byte_sequence",
        C::Application,
        &[t("invalid byte sequence for encoding \"%s\": %s", &[K, D])],
    ),
    k(
        "unique_violation",
        C::Application,
        &[t(
            "duplicate key value violates unique constraint \"%s\"",
            &[K],
        )],
    ),
    k(
        "not_null_violation",
        C::Application,
        &[t(
            "null value in column \"%s\" of relation \"%s\" violates not-null constraint",
            &[K, REL],
        )],
    ),
    k(
        "check_violation",
        C::Application,
        &[t(
            "new row for relation \"%s\" violates check constraint \"%s\"",
            &[REL, K],
        )],
    ),
    k(
        "partition_violation",
        C::Application,
        &[t(
            "new row for relation \"%s\" violates partition constraint",
            &[REL],
        )],
    ),
    k(
        "foreign_key_violation",
        C::Application,
        &[
            t(
                "insert or update on table \"%s\" violates foreign key constraint \"%s\"",
                &[REL, K],
            ),
            t(
                "update or delete on table \"%s\" violates foreign key constraint \"%s\" on table \"%s\"",
                &[REL, K, K],
            ),
        ],
    ),
    k(
        "undefined_table",
        C::Application,
        &[
            t("relation \"%s\" does not exist", &[REL]),
            t("relation \"%s.%s\" does not exist", &[REL, REL]),
        ],
    ),
    k(
        "undefined_column",
        C::Application,
        &[t("column \"%s\" does not exist", &[K])],
    ),
    k(
        "undefined_function",
        C::Application,
        &[t("function %s does not exist", &[K])],
    ),
    k(
        "undefined_operator",
        C::Application,
        &[t("operator does not exist: %s", &[K])],
    ),
    k(
        "syntax_error",
        C::Application,
        &[t("%s at or near \"%s\"", &[K, P]), t("syntax error", &[])],
    ),
    k(
        "unterminated_literal",
        C::Application,
        &[
            t("unterminated quoted string", &[]),
            t("unterminated quoted identifier", &[]),
        ],
    ),
    k(
        "insufficient_privilege",
        C::Application,
        &[
            t("permission denied for table %s", &[REL]),
            t("permission denied for schema %s", &[K]),
            t("permission denied for sequence %s", &[K]),
            t("permission denied for view %s", &[REL]),
            t("permission denied for function %s", &[K]),
            t("permission denied for database %s", &[K]),
            t(
                "permission denied for column \"%s\" of relation \"%s\"",
                &[K, REL],
            ),
        ],
    ),
    // --- Configuration --------------------------------------------------------------
    k(
        "parameter_changed",
        C::Config,
        &[t("parameter \"%s\" changed to \"%s\"", &[K, O])],
    ),
    k(
        "parameter_needs_restart",
        C::Config,
        &[t(
            "parameter \"%s\" cannot be changed without restarting the server",
            &[K],
        )],
    ),
    k(
        "parameter_cannot_change",
        C::Config,
        &[
            t("parameter \"%s\" cannot be changed", &[K]),
            t("parameter \"%s\" cannot be changed now", &[K]),
        ],
    ),
    k(
        "config_file_errors",
        C::Config,
        &[
            t(
                "configuration file \"%s\" contains errors; unaffected changes were applied",
                &[O],
            ),
            t(
                "configuration file \"%s\" contains errors; no changes were applied",
                &[O],
            ),
            t("configuration file \"%s\" contains errors", &[O]),
        ],
    ),
    k(
        "unrecognized_parameter",
        C::Config,
        &[
            t(
                "unrecognized configuration parameter \"%s\" in file \"%s\" line %d",
                &[K, O, K],
            ),
            t("unrecognized configuration parameter \"%s\"", &[K]),
        ],
    ),
    k(
        "invalid_parameter_value",
        C::Config,
        &[
            t("invalid value for parameter \"%s\": \"%s\"", &[K, D]),
            t("invalid value for parameter \"%s\": %d", &[K, D]),
        ],
    ),
    k(
        "config_syntax_error",
        C::Config,
        &[
            t(
                "syntax error in file \"%s\" line %u, near token \"%s\"",
                &[O, K, P],
            ),
            t(
                "syntax error in file \"%s\" line %u, near end of line",
                &[O, K],
            ),
        ],
    ),
    k(
        "library_load_failed",
        C::Config,
        &[t("could not load library \"%s\": %s", &[O, O])],
    ),
    // --- Disk and resources ---------------------------------------------------------
    k("out_of_memory", C::Resource, &[t("out of memory", &[])]),
    k(
        "out_of_file_descriptors",
        C::Resource,
        &[t("out of file descriptors: %m; release and retry", &[])],
    ),
    k(
        "fork_failed",
        C::Resource,
        &[
            t("could not fork new process for connection: %m", &[]),
            t("could not fork autovacuum worker process: %m", &[]),
            t("could not fork worker process: %m", &[]),
        ],
    ),
    k(
        "file_write_failed",
        C::Resource,
        &[
            t("could not write to file \"%s\": %m", &[FILE]),
            t("could not write file \"%s\": %m", &[FILE]),
            t("could not write block %u in file \"%s\": %m", &[K, FILE]),
        ],
    ),
    k(
        "file_extend_failed",
        C::Resource,
        &[t("could not extend file \"%s\": %m", &[FILE])],
    ),
    k(
        "fsync_failed",
        C::Resource,
        &[t("could not fsync file \"%s\": %m", &[FILE])],
    ),
    k(
        "file_open_failed",
        C::Resource,
        &[t("could not open file \"%s\": %m", &[FILE])],
    ),
    k(
        "temp_file_create_failed",
        C::Resource,
        &[t("could not create temporary file \"%s\": %m", &[FILE])],
    ),
    k(
        "shared_memory_resize_failed",
        C::Resource,
        &[t(
            "could not resize shared memory segment \"%s\" to %zu bytes: %m",
            &[O, K],
        )],
    ),
    k(
        "temp_file",
        C::Resource,
        &[t(
            "temporary file: path \"%s\", size %lu",
            &[FILE, f(Field::TempBytes)],
        )],
    ),
    k(
        "temp_file_limit",
        C::Resource,
        &[t(
            "temporary file size exceeds temp_file_limit (%dkB)",
            &[K],
        )],
    ), // --- PgBouncer (its own log; English only) --------------------------------------
    k(
        "pgbouncer_login",
        C::Pooler,
        &[
            t(
                "login attempt: db=%s user=%s tls=%s replication=%s",
                &[K, K, K, K],
            ),
            t("login attempt: db=%s user=%s tls=%s", &[K, K, K]),
        ],
    ),
    k(
        "pgbouncer_login_failed",
        C::Pooler,
        &[t("login failed: db=%s user=%s", &[K, K])],
    ),
    k(
        "pgbouncer_limits",
        C::Pooler,
        &[t(
            "kernel file descriptor limit: %s (hard: %s); max_client_conn: %s, max expected fd use: %s",
            &[K, K, K, K],
        )],
    ),
    k(
        "pgbouncer_closing",
        C::Pooler,
        &[t("closing because: %s (age=%s)", &[K, K])],
    ),
    k(
        "pgbouncer_server_connection",
        C::Pooler,
        &[
            t("new connection to server (from %s)", &[O]),
            t("new connection to server", &[]),
        ],
    ),
    k("pgbouncer_stats", C::Pooler, &[t("stats: %s", &[K])]),
    k(
        "pgbouncer_pooler_error",
        C::Pooler,
        &[t("pooler error: %s", &[K])],
    ),
    k(
        "pgbouncer_server_login_failed",
        C::Pooler,
        &[t("server login failed: %s", &[K])],
    ),
    k("pgbouncer_started", C::Pooler, &[t("process up: %s", &[K])]),
    k(
        "pgbouncer_listening",
        C::Pooler,
        &[t("listening on %s", &[O])],
    ),
    k(
        "pgbouncer_shutdown",
        C::Pooler,
        &[
            t("got SIGINT, shutting down", &[]),
            t("server connections dropped, exiting", &[]),
            t("got SIGTERM, fast exit", &[]),
            t("got SIGTERM, shutting down", &[]),
            t(
                "got SIGTERM, shutting down, waiting for all servers connections to be released",
                &[],
            ),
        ],
    ),
    k(
        "pgbouncer_reload",
        C::Pooler,
        &[t("got SIGHUP, re-reading config", &[])],
    ),
];

/// Lines that follow a kind's first line (autovacuum and autoanalyze reports) and the
/// figures in them.
pub static CONTINUATIONS: &[Tpl] = &[
    t(
        "pages: %u removed, %u remain, %u scanned (%.2f%% of total)\n",
        &[f(Field::PagesRemoved), K, K, K],
    ),
    t(
        "tuples: %lld removed, %lld remain, %lld are dead but not yet removable\n",
        &[f(Field::TuplesRemoved), K, K],
    ),
    t(
        "frozen: %u pages from table (%.2f%% of total) had %lld tuples frozen\n",
        &[K, K, f(Field::TuplesFrozen)],
    ),
    t(
        "WAL usage: %lld records, %lld full page images, %llu bytes\n",
        &[K, K, f(Field::WalBytes)],
    ),
    t(
        "WAL usage: %lld records, %lld full page images, %llu bytes, %lld buffers full\n",
        &[K, K, f(Field::WalBytes), K],
    ),
    t(
        "I/O timings: read: %.3f ms, write: %.3f ms\n",
        &[f(Field::IoReadMs), f(Field::IoWriteMs)],
    ),
];

/// The figures' line of `pg_rusage_show` (`system usage: CPU: …, elapsed: 0.25 s`), whose
/// elapsed time is the event's duration: the outer and inner templates.
pub const RUSAGE: (&str, &str) = (
    "system usage: %s",
    "CPU: user: %d.%02d s, system: %d.%02d s, elapsed: %d.%02d s",
);
pub const RUSAGE_ARGS: &[Role] = &[K, K, K, K, f(Field::DurationSeconds), K];

/// `DETAIL` lines read into fields of the kinds they follow.
pub static DETAILS: &[(&str, Tpl)] = &[
    (
        "process_crashed",
        t("Failed process was running: %s", &[f(Field::Statement)]),
    ),
    (
        "process_exited",
        t("Failed process was running: %s", &[f(Field::Statement)]),
    ),
    (
        "deadlock",
        t(
            "Process %d waits for %s on %s; blocked by process %d.",
            &[f(Field::Pids), K, K, f(Field::Pids)],
        ),
    ),
    (
        "lock_waiting",
        tn(
            "Process holding the lock: %s. Wait queue: %s.",
            "Processes holding the lock: %s. Wait queue: %s.",
            &[f(Field::Pids), K],
        ),
    ),
    (
        "lock_acquired",
        tn(
            "Process holding the lock: %s. Wait queue: %s.",
            "Processes holding the lock: %s. Wait queue: %s.",
            &[f(Field::Pids), K],
        ),
    ),
    (
        "deadlock_detected_while_waiting",
        tn(
            "Process holding the lock: %s. Wait queue: %s.",
            "Processes holding the lock: %s. Wait queue: %s.",
            &[f(Field::Pids), K],
        ),
    ),
    (
        "password_failed",
        t(
            "Connection matched pg_hba.conf line %d: \"%s\"",
            &[K, f(Field::AuthMethod)],
        ),
    ),
    (
        "password_failed",
        t(
            "Connection matched file \"%s\" line %d: \"%s\"",
            &[K, K, f(Field::AuthMethod)],
        ),
    ),
    (
        "archive_command_failed",
        t("The failed archive command was: %s", &[f(Field::File)]),
    ),
    (
        "archive_command_signaled",
        t("The failed archive command was: %s", &[f(Field::File)]),
    ),
];

/// Severity words and the labels of an entry's secondary lines, as `elog.c` prints them
/// (the labels translated through the catalog like any message).
pub const SEVERITY_WORDS: &[&str] = &[
    "DEBUG", "LOG", "INFO", "NOTICE", "WARNING", "ERROR", "FATAL", "PANIC",
];
pub const SECONDARY_LABELS: &[&str] = &[
    "DETAIL:  ",
    "HINT:  ",
    "QUERY:  ",
    "CONTEXT:  ",
    "LOCATION:  ",
    "STATEMENT:  ",
];

/// The class name of each SQLSTATE class (`errcodes.txt`'s sections), for errors no
/// template identifies: `Class 22 — Data Exception` → `data_exception`.
pub static SQLSTATE_CLASSES: &[(&str, &str)] = &[
    ("00", "successful_completion"),
    ("01", "warning"),
    ("02", "no_data"),
    ("03", "sql_statement_not_yet_complete"),
    ("08", "connection_exception"),
    ("09", "triggered_action_exception"),
    ("0A", "feature_not_supported"),
    ("0B", "invalid_transaction_initiation"),
    ("0F", "locator_exception"),
    ("0L", "invalid_grantor"),
    ("0P", "invalid_role_specification"),
    ("0Z", "diagnostics_exception"),
    ("20", "case_not_found"),
    ("21", "cardinality_violation"),
    ("22", "data_exception"),
    ("23", "integrity_constraint_violation"),
    ("24", "invalid_cursor_state"),
    ("25", "invalid_transaction_state"),
    ("26", "invalid_sql_statement_name"),
    ("27", "triggered_data_change_violation"),
    ("28", "invalid_authorization_specification"),
    ("2B", "dependent_privilege_descriptors_still_exist"),
    ("2D", "invalid_transaction_termination"),
    ("2F", "sql_routine_exception"),
    ("34", "invalid_cursor_name"),
    ("38", "external_routine_exception"),
    ("39", "external_routine_invocation_exception"),
    ("3B", "savepoint_exception"),
    ("3D", "invalid_catalog_name"),
    ("3F", "invalid_schema_name"),
    ("40", "transaction_rollback"),
    ("42", "syntax_error_or_access_rule_violation"),
    ("44", "with_check_option_violation"),
    ("53", "insufficient_resources"),
    ("54", "program_limit_exceeded"),
    ("55", "object_not_in_prerequisite_state"),
    ("57", "operator_intervention"),
    ("58", "system_error"),
    ("72", "snapshot_failure"),
    ("F0", "config_file_error"),
    ("HV", "fdw_error"),
    ("P0", "plpgsql_error"),
    ("XX", "internal_error"),
];

/// The category of an error no template identifies, from its SQLSTATE class.
pub fn category_of_class(class: &str) -> Category {
    match class {
        "08" | "28" => Category::Connection,
        "40" | "55" => Category::Lock,
        "53" | "58" => Category::Resource,
        "57" => Category::Server,
        "F0" => Category::Config,
        _ => Category::Application,
    }
}

/// Whether `name` is a kind an event can have: one of [`KINDS`], a SQLSTATE class name, or
/// one of the kinds of messages nothing identifies.
pub fn is_kind(name: &str) -> bool {
    KINDS.iter().any(|k| k.name == name)
        || SQLSTATE_CLASSES.iter().any(|(_, n)| *n == name)
        || OTHER_KINDS.contains(&name)
}

/// The kinds of messages no template identifies and without a SQLSTATE, by severity.
pub const OTHER_KINDS: &[&str] = &[
    "other_error",
    "other_fatal",
    "other_panic",
    "other_warning",
    "other",
];

/// The template id of a kind's template: the same for its translations and plural forms.
pub fn template_id(msgid: &str) -> String {
    format!("k{:012x}", super::catalog::fnv(msgid) >> 16)
}

/// The English template behind a template id, if it is one of the kinds'.
pub fn template_of(id: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .flat_map(|k| k.templates)
        .map(|t| t.msgid)
        .find(|m| template_id(m) == id)
}
