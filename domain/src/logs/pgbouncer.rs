//! PgBouncer's log: `2026-11-21 07:00:00.123 UTC [4242] LOG C-0x55d…: db/user@10.0.0.5:51234
//! login attempt: db=db user=user tls=no` (older releases print the pid without brackets).
//! The connection before the message gives the database and user; the message is
//! classified against PgBouncer's own templates (the `pooler` kinds).

use super::{Entry, MAX_MESSAGE_BYTES, Zones, parse_time_in, truncated};

const LEVELS: &[(&str, &str)] = &[
    ("LOG", "LOG"),
    ("WARNING", "WARNING"),
    ("ERROR", "ERROR"),
    ("FATAL", "FATAL"),
    ("DEBUG", "DEBUG"),
    ("NOISE", "DEBUG"),
];

pub(super) fn parse(line: &str, zones: &Zones) -> Option<Entry> {
    // The time: date, time, zone.
    let mut spaces = line.match_indices(' ').map(|(i, _)| i);
    let _date = spaces.next()?;
    let _clock = spaces.next()?;
    let zone_end = spaces.next()?;
    let time = parse_time_in(&line[..zone_end], zones);
    let rest = &line[zone_end + 1..];
    let (pid, rest) = rest.split_once(' ')?;
    let pid = pid
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok();
    let (level, message) = rest.split_once(' ').unwrap_or((rest, ""));
    let severity = LEVELS.iter().find(|(l, _)| *l == level)?.1;
    // `C-0x…: db/user@addr:port ` or `S-0x…: …`: who the message is about.
    let (mut datname, mut username) = (None, None);
    let mut message = message;
    if (message.starts_with("C-0x") || message.starts_with("S-0x"))
        && let Some((_, who_and_text)) = message.split_once(": ")
    {
        let (who, text) = who_and_text.split_once(' ').unwrap_or((who_and_text, ""));
        if let Some((db_user, _addr)) = who.split_once('@')
            && let Some((db, user)) = db_user.split_once('/')
        {
            let known = |v: &str| (!v.starts_with('(')).then(|| v.to_owned());
            datname = known(db);
            username = known(user);
        }
        message = text;
    }
    Some(Entry {
        time,
        pid,
        severity: severity.to_owned(),
        datname,
        username,
        message: truncated(message.to_owned(), MAX_MESSAGE_BYTES),
        ..Entry::default()
    })
}
