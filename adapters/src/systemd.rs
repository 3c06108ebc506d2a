//! systemd's service notifications (`Type=notify` units): readiness and stopping, sent to
//! `$NOTIFY_SOCKET`. Outside systemd (no socket) they do nothing. Tested by the packages'
//! test, where systemd starts both units as `Type=notify` (apps/server/tests/deploy).

/// Tells systemd the service is ready: listening (server), or collecting (agent).
pub fn ready() -> std::io::Result<()> {
    sd_notify::notify(false, &[sd_notify::NotifyState::Ready])
}

/// Tells systemd the service is stopping on purpose.
pub fn stopping() -> std::io::Result<()> {
    sd_notify::notify(false, &[sd_notify::NotifyState::Stopping])
}
