//! API tokens, users, sessions, the audit log and secrets in memory. Each method holds the
//! one lock for its whole change, so the change and its audit entry are atomic.

use async_trait::async_trait;
use pganalytics_domain::access::Role;
use pganalytics_domain::audit::{AuditEntry, AuditQuery, StoredAuditEntry};
use pganalytics_domain::credentials::{ApiToken, TokenHash};
use pganalytics_domain::users::{RefreshRecord, Session, User, UserUpdate, Username};
use pganalytics_ports::StoreError;
use pganalytics_ports::store::{
    ApiTokenStore, AuditStore, LAST_ADMIN, RefreshOutcome, SecretStore, SessionStore, UserStore,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{MemoryStore, State, not_found};

impl State {
    fn user_mut(&mut self, id: Uuid) -> Result<&mut User, StoreError> {
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(not_found("user"))
    }

    fn active_admins_other_than(&self, id: Uuid) -> usize {
        self.users
            .iter()
            .filter(|u| u.id != id && u.role == Role::Admin && u.is_active())
            .count()
    }

    fn revoke_sessions_of(&mut self, user: Uuid, keep: Option<Uuid>, now: OffsetDateTime) {
        for s in &mut self.sessions {
            if s.user_id == user && Some(s.id) != keep && s.revoked_at.is_none() {
                s.revoked_at = Some(now);
            }
        }
    }

    fn revoke_tokens_of(&mut self, user: Uuid, now: OffsetDateTime) {
        for t in &mut self.api_tokens {
            if t.owner == Some(user) && t.revoked_at.is_none() {
                t.revoked_at = Some(now);
            }
        }
    }
}

#[async_trait]
impl ApiTokenStore for MemoryStore {
    async fn create_api_token(
        &self,
        token: &ApiToken,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.api_tokens
            .iter()
            .any(|t| t.id == token.id || t.hash == token.hash)
        {
            return Err(StoreError::Conflict {
                entity: "API token",
            });
        }
        s.api_tokens.push(token.clone());
        s.audit(audit);
        Ok(())
    }

    async fn find_api_token(&self, hash: &TokenHash) -> Result<ApiToken, StoreError> {
        self.lock()
            .api_tokens
            .iter()
            .find(|t| &t.hash == hash)
            .cloned()
            .ok_or(not_found("API token"))
    }

    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let mut all = self.lock().api_tokens.clone();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    async fn revoke_api_token(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<ApiToken, StoreError> {
        let mut s = self.lock();
        let t = s
            .api_tokens
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or(not_found("API token"))?;
        t.revoked_at.get_or_insert(now);
        let t = t.clone();
        s.audit(audit);
        Ok(t)
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &User, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.users
            .iter()
            .any(|u| u.id == user.id || u.username == user.username)
        {
            return Err(StoreError::Conflict { entity: "user" });
        }
        s.users.push(user.clone());
        s.audit(audit);
        Ok(())
    }

    async fn create_first_user(&self, user: &User, audit: &AuditEntry) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if !s.users.is_empty() {
            return Ok(false);
        }
        s.users.push(user.clone());
        s.audit(audit);
        Ok(true)
    }

    async fn get_user(&self, id: Uuid) -> Result<User, StoreError> {
        self.lock().user_mut(id).map(|u| u.clone())
    }

    async fn find_user(&self, name: &Username) -> Result<User, StoreError> {
        self.lock()
            .users
            .iter()
            .find(|u| &u.username == name)
            .cloned()
            .ok_or(not_found("user"))
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let mut all = self.lock().users.clone();
        all.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(all)
    }

    async fn update_user(
        &self,
        id: Uuid,
        update: &UserUpdate,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<User, StoreError> {
        let mut s = self.lock();
        let current = s.user_mut(id)?.clone();
        let role = update.role.unwrap_or(current.role);
        let active = update.disabled.map_or(current.is_active(), |d| !d);
        if (role != Role::Admin || !active) && s.active_admins_other_than(id) == 0 {
            return Err(StoreError::Conflict { entity: LAST_ADMIN });
        }
        let u = s.user_mut(id)?;
        u.role = role;
        u.updated_at = now;
        u.disabled_at = match update.disabled {
            Some(true) => Some(u.disabled_at.unwrap_or(now)),
            Some(false) => None,
            None => u.disabled_at,
        };
        let u = u.clone();
        if !u.is_active() {
            s.revoke_sessions_of(id, None, now);
            s.revoke_tokens_of(id, now);
        }
        s.audit(audit);
        Ok(u)
    }

    async fn set_password(
        &self,
        id: Uuid,
        hash: &str,
        keep: Option<Uuid>,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let u = s.user_mut(id)?;
        u.password_hash = hash.to_owned();
        u.updated_at = now;
        s.revoke_sessions_of(id, keep, now);
        s.audit(audit);
        Ok(())
    }

    async fn delete_user(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.user_mut(id)?;
        if s.active_admins_other_than(id) == 0 {
            return Err(StoreError::Conflict { entity: LAST_ADMIN });
        }
        s.users.retain(|u| u.id != id);
        let gone: Vec<Uuid> = s
            .sessions
            .iter()
            .filter(|x| x.user_id == id)
            .map(|x| x.id)
            .collect();
        s.sessions.retain(|x| x.user_id != id);
        s.refresh.retain(|(r, _)| !gone.contains(&r.session_id));
        s.revoke_tokens_of(id, now);
        s.audit(audit);
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn start_session(
        &self,
        session: &Session,
        first: &RefreshRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.user_mut(session.user_id)?;
        s.sessions.push(session.clone());
        s.refresh.push((first.clone(), None));
        s.audit(audit);
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: OffsetDateTime,
        reuse_audit: &AuditEntry,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut s = self.lock();
        let Some(i) = s.refresh.iter().position(|(r, _)| &r.hash == presented) else {
            return Ok(RefreshOutcome::Invalid);
        };
        let (record, used) = s.refresh[i].clone();
        let Some(j) = s.sessions.iter().position(|x| x.id == record.session_id) else {
            return Ok(RefreshOutcome::Invalid);
        };
        if used.is_some() {
            let session = &mut s.sessions[j];
            if session.revoked_at.is_some() {
                return Ok(RefreshOutcome::Invalid);
            }
            session.revoked_at = Some(now);
            let session = session.clone();
            s.audit(reuse_audit);
            return Ok(RefreshOutcome::Reused { session });
        }
        let session = s.sessions[j].clone();
        let user = s
            .users
            .iter()
            .find(|u| u.id == session.user_id && u.is_active())
            .cloned();
        let (true, true, Some(user)) = (session.is_live(now), now < record.expires_at, user) else {
            return Ok(RefreshOutcome::Invalid);
        };
        s.refresh[i].1 = Some(now);
        s.refresh
            .push((RefreshRecord::of_hash(next.clone(), &session, now), None));
        Ok(RefreshOutcome::Rotated { user, session })
    }

    async fn revoke_session(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let session = s
            .sessions
            .iter_mut()
            .find(|x| x.id == id)
            .ok_or(not_found("session"))?;
        session.revoked_at.get_or_insert(now);
        s.audit(audit);
        Ok(())
    }

    async fn session_user(
        &self,
        session: Uuid,
        user: Uuid,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let s = self.lock();
        let live = s
            .sessions
            .iter()
            .any(|x| x.id == session && x.user_id == user && x.is_live(now));
        s.users
            .iter()
            .find(|u| live && u.id == user && u.is_active())
            .cloned()
            .ok_or(not_found("session"))
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.lock().audit(entry);
        Ok(())
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEntry>, StoreError> {
        Ok(self
            .lock()
            .audit
            .iter()
            .rev()
            .filter(|e| query.matches(e.id, &e.entry))
            .take(query.limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn put_secret(
        &self,
        name: &str,
        sealed: &str,
        _now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.secrets.insert(name.to_owned(), sealed.to_owned());
        s.audit(audit);
        Ok(())
    }

    async fn get_secret(&self, name: &str) -> Result<String, StoreError> {
        self.lock()
            .secrets
            .get(name)
            .cloned()
            .ok_or(not_found("secret"))
    }

    async fn list_secrets(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .lock()
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn reseal_secret(&self, name: &str, old: &str, new: &str) -> Result<bool, StoreError> {
        let mut s = self.lock();
        match s.secrets.get_mut(name) {
            Some(v) if v == old => {
                *v = new.to_owned();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
