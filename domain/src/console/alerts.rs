//! What the alerts page suggests: the matchers of a silence for one alert.

use crate::alerts::state::AlertState;

/// One matcher per line selecting exactly this alert's series: its rule and every label
/// (the person may widen them before silencing).
pub fn silence_matchers(alert: &AlertState) -> String {
    std::iter::once(format!("rule={}", alert.rule))
        .chain(
            alert
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "rule")
                .map(|(k, v)| format!("{k}={v}")),
        )
        .collect::<Vec<_>>()
        .join("\n")
}
