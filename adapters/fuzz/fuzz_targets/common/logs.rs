//! What the log-line targets share: any bytes, as lines of one log format, through the
//! parser and into event rows.

use pganalytics_domain::logs::{LogFormat, LogParser};

pub fn feed(format: LogFormat, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parser = LogParser::new(format, "%m [%p] %q%u@%d ");
    for line in text.lines() {
        if let Some(event) = parser.push(line) {
            let _ = event.row(time::OffsetDateTime::UNIX_EPOCH);
        }
    }
    if let Some(event) = parser.flush() {
        let _ = event.row(time::OffsetDateTime::UNIX_EPOCH);
    }
}
