//! Contract clauses for users, sessions, API tokens, the audit log and secrets.

use pganalytics_domain::access::Role;
use pganalytics_domain::audit::{ActorKind, AuditQuery, Outcome};
use pganalytics_domain::credentials::{ApiToken, ApiTokenSecret};
use pganalytics_domain::users::{
    RefreshRecord, RefreshSecret, Session, User, UserUpdate, Username,
};
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

use super::{Stores, audit, now, rand_bytes, registered};
use crate::StoreError;
use crate::store::{LAST_ADMIN, RefreshOutcome};

pub fn user(name: &str, role: Role) -> User {
    User {
        id: Uuid::new_v4(),
        username: Username::parse(name).unwrap(),
        role,
        password_hash: format!("hash-of-{name}"),
        created_at: now(),
        updated_at: now(),
        disabled_at: None,
    }
}

async fn stored_user<S: Stores>(s: &S, name: &str, role: Role) -> User {
    let u = user(name, role);
    s.create_user(&u, &audit("user.create")).await.unwrap();
    u
}

/// A live session of `u` with its first refresh token.
async fn login<S: Stores>(s: &S, u: &User) -> (Session, RefreshSecret) {
    let session = Session {
        id: Uuid::new_v4(),
        user_id: u.id,
        created_at: now(),
        expires_at: now() + Session::MAX_LIFETIME,
        revoked_at: None,
        address: Some("127.0.0.1".into()),
    };
    let secret = RefreshSecret::from_bytes(&rand_bytes());
    let record = RefreshRecord::new(&secret, &session, now());
    s.start_session(&session, &record, &audit("auth.login"))
        .await
        .unwrap();
    (session, secret)
}

fn api_token(owner: Option<Uuid>) -> (ApiTokenSecret, ApiToken) {
    let secret = ApiTokenSecret::from_bytes(&[9, 8, 7, 6, 5, 4], &rand_bytes());
    let t = ApiToken {
        id: Uuid::new_v4(),
        name: "script".into(),
        role: Role::User,
        owner,
        prefix: secret.prefix().into(),
        hash: secret.hash(),
        created_at: now(),
        expires_at: None,
        revoked_at: None,
    };
    (secret, t)
}

async fn actions<S: Stores>(s: &S) -> Vec<String> {
    let q = AuditQuery {
        limit: 1000,
        ..AuditQuery::default()
    };
    let mut all: Vec<String> = s
        .list_audit(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.action)
        .collect();
    all.reverse();
    all
}

pub async fn every_mutation_writes_its_audit_entry_and_a_failed_one_writes_none<S: Stores>(s: S) {
    let c = registered(&s).await; // registration_token.create, collector.register
    s.set_collector_config(
        c,
        Default::default(),
        Default::default(),
        now(),
        &audit("collector.config.update"),
    )
    .await
    .unwrap();
    let u = stored_user(&s, "auditor", Role::Admin).await;
    let _second_admin = stored_user(&s, "auditor2", Role::Admin).await;
    let (session, _) = login(&s, &u).await;
    s.revoke_session(session.id, now(), &audit("auth.logout"))
        .await
        .unwrap();
    let (_, t) = api_token(None);
    s.create_api_token(&t, &audit("api_token.create"))
        .await
        .unwrap();
    s.revoke_api_token(t.id, now(), &audit("api_token.revoke"))
        .await
        .unwrap();
    s.update_user(
        u.id,
        &UserUpdate {
            role: Some(Role::User),
            disabled: None,
        },
        now(),
        &audit("user.update"),
    )
    .await
    .unwrap();
    s.set_password(u.id, "new-hash", None, now(), &audit("user.password.reset"))
        .await
        .unwrap();
    s.put_secret("webhook:1", "v1:k:n:c", now(), &audit("secret.put"))
        .await
        .unwrap();
    s.revoke_collector(c, now(), &audit("collector.revoke"))
        .await
        .unwrap();
    s.delete_user(u.id, now(), &audit("user.delete"))
        .await
        .unwrap();
    let expected = [
        "registration_token.create",
        "collector.register",
        "collector.config.update",
        "user.create",
        "user.create",
        "auth.login",
        "auth.logout",
        "api_token.create",
        "api_token.revoke",
        "user.update",
        "user.password.reset",
        "secret.put",
        "collector.revoke",
        "user.delete",
    ];
    assert_eq!(actions(&s).await, expected);

    // Failed mutations write nothing: a duplicate, unknown ids, the last admin.
    assert!(
        s.create_api_token(&t, &audit("api_token.create"))
            .await
            .is_err()
    );
    assert!(
        s.create_user(&_second_admin, &audit("user.create"))
            .await
            .is_err()
    );
    assert!(
        s.revoke_api_token(Uuid::new_v4(), now(), &audit("api_token.revoke"))
            .await
            .is_err()
    );
    assert!(
        s.delete_user(Uuid::new_v4(), now(), &audit("user.delete"))
            .await
            .is_err()
    );
    assert!(
        s.delete_user(_second_admin.id, now(), &audit("user.delete"))
            .await
            .is_err()
    );
    assert!(
        s.revoke_session(Uuid::new_v4(), now(), &audit("auth.logout"))
            .await
            .is_err()
    );
    assert_eq!(actions(&s).await.len(), expected.len());
}

pub async fn the_audit_log_filters_and_pages_newest_first<S: Stores>(s: S) {
    for i in 0..5 {
        s.append_audit(&audit(&format!("user.step{i}")))
            .await
            .unwrap();
    }
    s.append_audit(&audit("api_token.create").denied())
        .await
        .unwrap();
    let page = |before_id, limit| AuditQuery {
        before_id,
        limit,
        ..AuditQuery::default()
    };
    let first = s.list_audit(&page(None, 4)).await.unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(first[0].entry.action, "api_token.create");
    assert!(first.windows(2).all(|w| w[0].id > w[1].id));
    let rest = s.list_audit(&page(Some(first[3].id), 4)).await.unwrap();
    let names: Vec<_> = rest.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(names, ["user.step1", "user.step0"]);

    let users = AuditQuery {
        action: Some("user.".into()),
        limit: 100,
        ..AuditQuery::default()
    };
    assert_eq!(s.list_audit(&users).await.unwrap().len(), 5);
    let denied = AuditQuery {
        outcome: Some(Outcome::Denied),
        actor_kind: Some(ActorKind::Cli),
        limit: 100,
        ..AuditQuery::default()
    };
    let d = s.list_audit(&denied).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].entry,
        audit("api_token.create").denied().at_of(&d[0].entry)
    );
    let future = AuditQuery {
        since: Some(now() + Duration::hours(1)),
        limit: 100,
        ..AuditQuery::default()
    };
    assert!(s.list_audit(&future).await.unwrap().is_empty());
}

/// Test helper: the same entry with another's time (times are set when created).
trait AtOf {
    fn at_of(self, other: &pganalytics_domain::audit::AuditEntry) -> Self;
}
impl AtOf for pganalytics_domain::audit::AuditEntry {
    fn at_of(mut self, other: &Self) -> Self {
        self.at = other.at;
        self
    }
}

pub async fn users_are_created_found_updated_and_deleted<S: Stores>(s: S) {
    let admin = stored_user(&s, "root-admin", Role::Admin).await;
    let u = stored_user(&s, "jane", Role::Viewer).await;
    assert_eq!(s.get_user(u.id).await.unwrap(), u);
    assert_eq!(s.find_user(&u.username).await.unwrap(), u);
    // User names are normalised to lower case before they reach a store: `Jane` is `jane`.
    assert_eq!(
        s.find_user(&Username::parse("Jane").unwrap())
            .await
            .unwrap(),
        u
    );
    let dup = User {
        id: Uuid::new_v4(),
        ..u.clone()
    };
    assert!(matches!(
        s.create_user(&dup, &audit("user.create")).await,
        Err(StoreError::Conflict { .. })
    ));
    let names: Vec<_> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username.to_string())
        .collect();
    assert_eq!(names, ["jane", "root-admin"]);

    let later = now() + Duration::seconds(5);
    let promoted = s
        .update_user(
            u.id,
            &UserUpdate {
                role: Some(Role::User),
                disabled: Some(true),
            },
            later,
            &audit("user.update"),
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::User);
    assert_eq!(promoted.disabled_at, Some(later));
    assert_eq!(promoted.updated_at, later);
    let enabled = s
        .update_user(
            u.id,
            &UserUpdate {
                role: None,
                disabled: Some(false),
            },
            later,
            &audit("user.update"),
        )
        .await
        .unwrap();
    assert!(enabled.is_active() && enabled.role == Role::User);

    s.set_password(
        u.id,
        "another-hash",
        None,
        later,
        &audit("user.password.reset"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_user(u.id).await.unwrap().password_hash,
        "another-hash"
    );

    s.delete_user(u.id, later, &audit("user.delete"))
        .await
        .unwrap();
    assert!(matches!(
        s.get_user(u.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.update_user(u.id, &UserUpdate::default(), later, &audit("user.update"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.set_password(u.id, "h", None, later, &audit("user.password.reset"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s.get_user(admin.id).await.is_ok());
}

pub async fn the_last_active_admin_cannot_be_removed<S: Stores>(s: S) {
    let a = stored_user(&s, "only-admin", Role::Admin).await;
    let last = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Conflict { entity }) if entity == LAST_ADMIN);
    let demote = UserUpdate {
        role: Some(Role::Viewer),
        disabled: None,
    };
    let disable = UserUpdate {
        role: None,
        disabled: Some(true),
    };
    assert!(last(
        s.update_user(a.id, &demote, now(), &audit("user.update"))
            .await
            .map(drop)
    ));
    assert!(last(
        s.update_user(a.id, &disable, now(), &audit("user.update"))
            .await
            .map(drop)
    ));
    assert!(last(
        s.delete_user(a.id, now(), &audit("user.delete")).await
    ));
    assert_eq!(s.get_user(a.id).await.unwrap(), a, "nothing changed");

    // A disabled admin does not count; a second active one does.
    let b = stored_user(&s, "second-admin", Role::Admin).await;
    s.update_user(b.id, &disable, now(), &audit("user.update"))
        .await
        .unwrap();
    assert!(last(
        s.delete_user(a.id, now(), &audit("user.delete")).await
    ));
    s.update_user(
        b.id,
        &UserUpdate {
            role: None,
            disabled: Some(false),
        },
        now(),
        &audit("user.update"),
    )
    .await
    .unwrap();
    s.update_user(a.id, &demote, now(), &audit("user.update"))
        .await
        .unwrap();
    assert!(last(
        s.delete_user(b.id, now(), &audit("user.delete")).await
    ));
}

pub async fn the_first_user_is_created_once_even_when_servers_race<S: Stores>(s: S) {
    let s = Arc::new(s);
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let u = user(&format!("admin{i}"), Role::Admin);
                s.create_first_user(&u, &audit("user.create"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap());
    }
    assert_eq!(created, 1);
    assert_eq!(s.list_users().await.unwrap().len(), 1);
    let later = user("admin9", Role::Admin);
    assert!(
        !s.create_first_user(&later, &audit("user.create"))
            .await
            .unwrap()
    );
}

pub async fn a_refresh_token_rotates_once_and_its_reuse_revokes_the_session<S: Stores>(s: S) {
    let u = stored_user(&s, "rotating", Role::User).await;
    let (session, first) = login(&s, &u).await;
    let second = RefreshSecret::from_bytes(&rand_bytes());
    let third = RefreshSecret::from_bytes(&rand_bytes());
    let reuse = audit("auth.refresh_reuse").denied();
    match s
        .rotate_refresh(&first.hash(), &second.hash(), now(), &reuse)
        .await
        .unwrap()
    {
        RefreshOutcome::Rotated { user, session: got } => {
            assert_eq!(user.id, u.id);
            assert_eq!(got.id, session.id);
        }
        other => panic!("expected a rotation, got {other:?}"),
    }
    assert!(s.session_user(session.id, u.id, now()).await.is_ok());
    // The first token again: a replay. The session is revoked, the second token dies too.
    assert!(matches!(
        s.rotate_refresh(&first.hash(), &third.hash(), now(), &reuse)
            .await
            .unwrap(),
        RefreshOutcome::Reused { .. }
    ));
    assert_eq!(
        actions(&s).await.last().map(String::as_str),
        Some("auth.refresh_reuse")
    );
    assert_eq!(
        s.rotate_refresh(&second.hash(), &third.hash(), now(), &reuse)
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
    assert!(matches!(
        s.session_user(session.id, u.id, now()).await,
        Err(StoreError::NotFound { .. })
    ));
    // Unknown and expired tokens are invalid.
    let unknown = RefreshSecret::from_bytes(&rand_bytes());
    assert_eq!(
        s.rotate_refresh(&unknown.hash(), &third.hash(), now(), &reuse)
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
    let (_, fresh) = login(&s, &u).await;
    let late = now() + RefreshSecret::LIFETIME + Duration::seconds(1);
    assert_eq!(
        s.rotate_refresh(&fresh.hash(), &third.hash(), late, &reuse)
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    );
}

pub async fn concurrent_uses_of_one_refresh_token_rotate_it_once<S: Stores>(s: S) {
    let s = Arc::new(s);
    let u = stored_user(&*s, "racer", Role::User).await;
    let (_, first) = login(&*s, &u).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (s, h) = (s.clone(), first.hash());
            tokio::spawn(async move {
                let next = RefreshSecret::from_bytes(&rand_bytes());
                s.rotate_refresh(&h, &next.hash(), now(), &audit("auth.refresh_reuse"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), RefreshOutcome::Rotated { .. }) {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);
}

pub async fn a_session_ends_with_logout_password_change_disabling_and_deletion<S: Stores>(s: S) {
    let _admin = stored_user(&s, "keeper", Role::Admin).await;
    let u = stored_user(&s, "leaver", Role::User).await;
    let ended = |r: Result<User, StoreError>| matches!(r, Err(StoreError::NotFound { .. }));

    let (a, _) = login(&s, &u).await;
    assert_eq!(s.session_user(a.id, u.id, now()).await.unwrap().id, u.id);
    assert!(
        ended(s.session_user(a.id, Uuid::new_v4(), now()).await),
        "another user's session"
    );
    assert!(
        ended(s.session_user(a.id, u.id, a.expires_at).await),
        "past its lifetime"
    );
    s.revoke_session(a.id, now(), &audit("auth.logout"))
        .await
        .unwrap();
    s.revoke_session(a.id, now(), &audit("auth.logout"))
        .await
        .unwrap();
    assert!(ended(s.session_user(a.id, u.id, now()).await));

    let (kept, _) = login(&s, &u).await;
    let (other, _) = login(&s, &u).await;
    s.set_password(
        u.id,
        "h2",
        Some(kept.id),
        now(),
        &audit("user.password.change"),
    )
    .await
    .unwrap();
    assert!(s.session_user(kept.id, u.id, now()).await.is_ok());
    assert!(ended(s.session_user(other.id, u.id, now()).await));

    s.update_user(
        u.id,
        &UserUpdate {
            role: None,
            disabled: Some(true),
        },
        now(),
        &audit("user.update"),
    )
    .await
    .unwrap();
    assert!(ended(s.session_user(kept.id, u.id, now()).await));
    s.update_user(
        u.id,
        &UserUpdate {
            role: None,
            disabled: Some(false),
        },
        now(),
        &audit("user.update"),
    )
    .await
    .unwrap();
    assert!(
        ended(s.session_user(kept.id, u.id, now()).await),
        "re-enabling does not revive a session"
    );

    let (last, refresh) = login(&s, &u).await;
    s.delete_user(u.id, now(), &audit("user.delete"))
        .await
        .unwrap();
    assert!(ended(s.session_user(last.id, u.id, now()).await));
    let next = RefreshSecret::from_bytes(&rand_bytes());
    assert_eq!(
        s.rotate_refresh(
            &refresh.hash(),
            &next.hash(),
            now(),
            &audit("auth.refresh_reuse")
        )
        .await
        .unwrap(),
        RefreshOutcome::Invalid
    );
    let ghost = user("ghost", Role::User);
    let session = Session {
        id: Uuid::new_v4(),
        user_id: ghost.id,
        created_at: now(),
        expires_at: now() + Duration::days(1),
        revoked_at: None,
        address: None,
    };
    let record = RefreshRecord::new(&next, &session, now());
    assert!(
        s.start_session(&session, &record, &audit("auth.login"))
            .await
            .is_err()
    );
}

pub async fn api_tokens_are_listed_and_revoked_with_their_owner<S: Stores>(s: S) {
    let _admin = stored_user(&s, "boss", Role::Admin).await;
    let owner = stored_user(&s, "owner", Role::User).await;
    let (service_secret, service) = api_token(None);
    let (personal_secret, personal) = api_token(Some(owner.id));
    s.create_api_token(&service, &audit("api_token.create"))
        .await
        .unwrap();
    s.create_api_token(&personal, &audit("api_token.create"))
        .await
        .unwrap();
    assert_eq!(s.list_api_tokens().await.unwrap().len(), 2);

    let at = now() + Duration::seconds(1);
    let revoked = s
        .revoke_api_token(service.id, at, &audit("api_token.revoke"))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let again = s
        .revoke_api_token(
            service.id,
            at + Duration::hours(1),
            &audit("api_token.revoke"),
        )
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at),
        "the first revocation time stays"
    );
    assert!(
        s.find_api_token(&service_secret.hash())
            .await
            .unwrap()
            .check_usable(at)
            .is_err()
    );

    // Disabling the owner revokes their personal tokens.
    s.update_user(
        owner.id,
        &UserUpdate {
            role: None,
            disabled: Some(true),
        },
        at,
        &audit("user.update"),
    )
    .await
    .unwrap();
    let p = s.find_api_token(&personal_secret.hash()).await.unwrap();
    assert!(p.revoked_at.is_some());
    assert_eq!((p.role, p.owner), (Role::User, Some(owner.id)));
}

pub async fn secrets_are_stored_and_resealed_only_over_the_value_read<S: Stores>(s: S) {
    assert!(matches!(
        s.get_secret("webhook:1").await,
        Err(StoreError::NotFound { .. })
    ));
    s.put_secret("webhook:1", "v1:old:a", now(), &audit("secret.put"))
        .await
        .unwrap();
    s.put_secret("db:main", "v1:old:b", now(), &audit("secret.put"))
        .await
        .unwrap();
    s.put_secret("webhook:1", "v1:old:c", now(), &audit("secret.put"))
        .await
        .unwrap();
    assert_eq!(s.get_secret("webhook:1").await.unwrap(), "v1:old:c");
    assert_eq!(
        s.list_secrets().await.unwrap(),
        [
            ("db:main".to_owned(), "v1:old:b".to_owned()),
            ("webhook:1".to_owned(), "v1:old:c".to_owned())
        ]
    );
    assert!(
        s.reseal_secret("db:main", "v1:old:b", "v1:new:b")
            .await
            .unwrap()
    );
    assert!(
        !s.reseal_secret("webhook:1", "v1:old:a", "v1:new:a")
            .await
            .unwrap()
    );
    assert_eq!(s.get_secret("db:main").await.unwrap(), "v1:new:b");
    assert_eq!(s.get_secret("webhook:1").await.unwrap(), "v1:old:c");
}
