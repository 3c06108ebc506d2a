//! The pages' HTML without a request, as the handlers send it to a signed-in
//! administrator: for the benchmarks (`tier-bench` times page model and rendering, the
//! server's whole share of a page).

use pganalytics_domain::access::{Principal, PrincipalKind, Role};
use pganalytics_domain::audit::{AuditContext, Origin};
use pganalytics_domain::console::fleet::FleetPage;
use pganalytics_ports::usecases::{ConsoleCaller, ServerPage};

use super::layout::{self, Nav};
use super::{fleet, server};

fn admin() -> ConsoleCaller {
    let principal = Principal {
        kind: PrincipalKind::User {
            id: uuid::Uuid::nil(),
            username: "admin".into(),
            session: uuid::Uuid::nil(),
        },
        role: Role::Admin,
    };
    ConsoleCaller {
        audit: AuditContext {
            actor: principal.actor(),
            origin: Origin::default(),
        },
        principal,
        csrf: String::new(),
        expires_at: time::OffsetDateTime::UNIX_EPOCH,
    }
}

pub fn fleet(m: &FleetPage) -> String {
    layout::page("Fleet", Nav::Fleet, &admin(), fleet::view(m)).into_string()
}

pub fn server(m: &ServerPage) -> String {
    layout::page("Server", Nav::Fleet, &admin(), server::view(m)).into_string()
}
