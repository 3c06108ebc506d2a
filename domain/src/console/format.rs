//! How the console writes figures: bytes in binary units, rates, shares, durations.

use super::charts::Unit;

/// `1536` → "1.5 KiB".
pub fn bytes(v: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = v.abs();
    let mut i = 0;
    while x >= 1024.0 && i + 1 < UNITS.len() {
        x /= 1024.0;
        i += 1;
    }
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}{} {}", short(x), UNITS[i])
}

/// Three significant digits at most: 1234 → "1234", 12.345 → "12.3", 0.01234 → "0.0123".
pub fn short(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let digits = (-a.log10()).floor() as usize + 3;
        format!("{v:.digits$}")
    };
    trim(s)
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// 1234567 → "1.23 M".
pub fn count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{} G", short(v / 1e9))
    } else if a >= 1e6 {
        format!("{} M", short(v / 1e6))
    } else if a >= 1e4 {
        format!("{} k", short(v / 1e3))
    } else {
        short(v)
    }
}

/// Seconds as the largest unit that fits: "45 s", "12.5 min", "3.2 h", "2.1 d".
pub fn seconds(v: f64) -> String {
    let a = v.abs();
    if a < 1.0 && a > 0.0 {
        format!("{} ms", short(v * 1000.0))
    } else if a < 120.0 {
        format!("{} s", short(v))
    } else if a < 7200.0 {
        format!("{} min", short(v / 60.0))
    } else if a < 172_800.0 {
        format!("{} h", short(v / 3600.0))
    } else {
        format!("{} d", short(v / 86400.0))
    }
}

/// A share from 0 to 1 as a percentage.
pub fn ratio(v: f64) -> String {
    format!("{}%", short(v * 100.0))
}

/// A value in a chart's unit.
pub fn value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::PerSecond => format!("{}/s", count(v)),
        Unit::BytesPerSecond => format!("{}/s", bytes(v)),
        Unit::Bytes => bytes(v),
        Unit::Percent => format!("{}%", short(v)),
        Unit::Seconds => seconds(v),
        Unit::Count => count(v),
    }
}
