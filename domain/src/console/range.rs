//! The console's time range: a preset ending now (15 minutes … a year) or a custom range,
//! and the step its charts are drawn at.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The ranges the picker offers, ending now.
pub const PRESETS: &[(&str, Duration)] = &[
    ("15m", Duration::minutes(15)),
    ("1h", Duration::hours(1)),
    ("6h", Duration::hours(6)),
    ("24h", Duration::hours(24)),
    ("7d", Duration::days(7)),
    ("30d", Duration::days(30)),
    ("90d", Duration::days(90)),
    ("1y", Duration::days(365)),
];

/// The default range of a server page.
pub const DEFAULT_PRESET: &str = "1h";

/// About this many points across a chart.
pub const POINTS: i64 = 240;

/// Steps a chart is drawn at: the smallest that keeps it under [`POINTS`] points.
const STEPS: &[i64] = &[
    15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172_800, 604_800,
];

/// The longest custom range (the daily rollups' default retention).
pub const MAX_SPAN: Duration = Duration::days(731);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("unknown range {0:?}: one of 15m, 1h, 6h, 24h, 7d, 30d, 90d, 1y")]
    UnknownPreset(String),
    #[error("`{0}` is not a time: use RFC 3339, e.g. 2026-11-30T08:00:00Z")]
    BadTime(&'static str),
    #[error("`from` must be before `to`")]
    Reversed,
    #[error("a range spans at most two years")]
    TooLong,
}

/// A chart range: `[from, to)`, from a preset (ending now) or given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRange {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// The preset it came from; `None` for a custom range.
    pub preset: Option<&'static str>,
}

impl TimeRange {
    /// The range a page asks for: `from` and `to` (RFC 3339) when both are given, else the
    /// preset `range` (default [`DEFAULT_PRESET`]) ending `now`.
    pub fn parse(
        range: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Self, RangeError> {
        let time = |v: &str, name| {
            OffsetDateTime::parse(v.trim(), &Rfc3339).map_err(|_| RangeError::BadTime(name))
        };
        match (from.filter(|v| !v.is_empty()), to.filter(|v| !v.is_empty())) {
            (Some(f), Some(t)) => {
                let (from, to) = (time(f, "from")?, time(t, "to")?);
                if from >= to {
                    return Err(RangeError::Reversed);
                }
                if to - from > MAX_SPAN {
                    return Err(RangeError::TooLong);
                }
                Ok(Self {
                    from,
                    to,
                    preset: None,
                })
            }
            (Some(_), None) => Err(RangeError::BadTime("to")),
            (None, Some(_)) => Err(RangeError::BadTime("from")),
            (None, None) => {
                let name = range.filter(|v| !v.is_empty()).unwrap_or(DEFAULT_PRESET);
                let (name, span) = PRESETS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or_else(|| RangeError::UnknownPreset(name.to_owned()))?;
                Ok(Self {
                    from: now - *span,
                    to: now,
                    preset: Some(name),
                })
            }
        }
    }

    pub fn span(&self) -> Duration {
        self.to - self.from
    }

    /// The step the charts are drawn at: the smallest of a fixed ladder giving at most
    /// [`POINTS`] points.
    pub fn step(&self) -> Duration {
        let seconds = self.span().whole_seconds();
        let s = STEPS
            .iter()
            .copied()
            .find(|s| seconds / s <= POINTS)
            .unwrap_or(604_800);
        Duration::seconds(s)
    }

    /// The query string that reproduces this range.
    pub fn query(&self) -> String {
        match self.preset {
            Some(p) => format!("range={p}"),
            None => format!(
                "from={}&to={}",
                rfc3339(self.from).replace('+', "%2B"),
                rfc3339(self.to).replace('+', "%2B")
            ),
        }
    }
}

/// RFC 3339 in UTC, whole seconds.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}
