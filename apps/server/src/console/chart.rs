//! Line charts as SVG, drawn on the server: readable without the script, which only adds
//! hover values and drag-to-zoom from the data attributes written here.

use maud::{Markup, html};
use pganalytics_domain::console::charts::{Chart, Unit};
use pganalytics_domain::console::format;
use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 200.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 22.0;

/// A round number at or above `v`: 1, 2 or 5 times a power of ten.
fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// Time-axis ticks: about five, on round times.
fn time_ticks(from: i64, to: i64) -> Vec<i64> {
    const STEPS: [i64; 14] = [
        60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172_800, 604_800,
        2_592_000,
    ];
    let span = (to - from).max(1);
    let step = STEPS
        .into_iter()
        .find(|s| span / s <= 6)
        .unwrap_or(7_776_000);
    let first = from.div_euclid(step) * step + step;
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t < to)
        .collect()
}

fn time_label(t: i64, span: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(t) else {
        return String::new();
    };
    if span <= 2 * 86400 {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!("{:02}-{:02}", u8::from(t.month()), t.day())
    }
}

/// A line as drawn: its path, the readings that stand alone (dots), and its values for the
/// script (`t:v;` pairs).
struct Drawn {
    d: String,
    dots: Vec<(f64, f64)>,
    values: String,
}

/// The longest gap a line bridges: a step and a half, or two and a half times the line's
/// usual spacing when its readings are sparser than the step (a collector reading every
/// minute on a 15-second chart), so only a real gap (an agent down) breaks it.
fn max_gap(points: &[(i64, f64)], step: i64) -> i64 {
    let mut spacing: Vec<i64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    spacing.sort_unstable();
    let usual = spacing
        .get(spacing.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(step);
    (step * 3 / 2).max(usual * 5 / 2)
}

/// The chart of `c` over `[from, to)` (unix seconds), with `step` the seconds between points
/// (a longer gap breaks the line).
pub fn svg(c: &Chart, from: i64, to: i64, step: i64) -> Markup {
    let max = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|(_, v)| *v))
        .fold(0.0_f64, f64::max);
    let top = if c.unit == Unit::Percent && max > 50.0 {
        100.0_f64.max(nice_ceiling(max))
    } else {
        nice_ceiling(max)
    };
    let span = (to - from).max(1);
    let x = |t: i64| LEFT + (W - LEFT - RIGHT) * ((t - from) as f64 / span as f64);
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / top);
    // Each line's path (a gap breaks it, see `max_gap`), the points that
    // stand alone (drawn as dots: a line needs two), and its values for the script.
    let paths: Vec<Drawn> = c
        .lines
        .iter()
        .map(|l| {
            let mut d = String::new();
            let mut values = String::new();
            let mut dots = Vec::new();
            let mut run: Vec<(f64, f64)> = Vec::new();
            let mut last: Option<i64> = None;
            let gap = max_gap(&l.points, step);
            for &(t, v) in &l.points {
                let joined = last.is_some_and(|p| t - p <= gap);
                if !joined {
                    if run.len() == 1 {
                        dots.push(run[0]);
                    }
                    run.clear();
                }
                let cmd = if joined { 'L' } else { 'M' };
                let _ = write!(d, "{cmd}{:.1} {:.1}", x(t), y(v));
                let _ = write!(values, "{t}:{v};");
                run.push((x(t), y(v)));
                last = Some(t);
            }
            if run.len() == 1 {
                dots.push(run[0]);
            }
            Drawn { d, dots, values }
        })
        .collect();
    let summary: Vec<String> = c
        .lines
        .iter()
        .filter_map(|l| {
            let (_, v) = l.points.last()?;
            Some(format!("{} {}", l.label, format::value(c.unit, *v)))
        })
        .collect();
    html! {
        figure.chart #(c.id) {
            figcaption { h3 { (c.title) } }
            @if c.lines.is_empty() {
                p.nodata { "No data in this range." }
            } @else {
                svg viewBox=(format!("0 0 {W} {H}")) role="img"
                    aria-label=(format!("{}: latest {}", c.title, summary.join(", ")))
                    data-from=(from) data-to=(to) data-unit=(c.unit.as_str())
                    data-left=(LEFT) data-right=(W - RIGHT) data-width=(W) {
                    @for i in 0..=4 {
                        @let v = top * f64::from(i) / 4.0;
                        line.grid x1=(LEFT) x2=(W - RIGHT) y1=(format!("{:.1}", y(v))) y2=(format!("{:.1}", y(v))) {}
                        text.ylabel x=(LEFT - 4.0) y=(format!("{:.1}", y(v) + 4.0)) { (format::value(c.unit, v)) }
                    }
                    // A label needs room: none at the very right edge.
                    @for t in time_ticks(from, to).into_iter().filter(|t| x(*t) <= W - RIGHT - 16.0) {
                        line.tick x1=(format!("{:.1}", x(t))) x2=(format!("{:.1}", x(t))) y1=(TOP) y2=(H - BOTTOM) {}
                        text.xlabel x=(format!("{:.1}", x(t))) y=(H - 6.0) data-t=(t) data-days=(u8::from(span > 2 * 86400)) { (time_label(t, span)) }
                    }
                    @for (i, (l, p)) in c.lines.iter().zip(&paths).enumerate() {
                        path class=(format!("line s{}", i % 8)) d=(p.d) data-label=(l.label) data-values=(p.values) {}
                        @for (cx, cy) in &p.dots {
                            circle class=(format!("dot s{}", i % 8)) cx=(format!("{cx:.1}")) cy=(format!("{cy:.1}")) r="2.5" {}
                        }
                    }
                    rect.zoom x=(LEFT) y=(TOP) width=(W - LEFT - RIGHT) height=(H - TOP - BOTTOM) {}
                }
                ul.legend {
                    @for (i, l) in c.lines.iter().enumerate() {
                        @let last = l.points.last().map(|(_, v)| *v);
                        @let peak = l.points.iter().map(|(_, v)| *v).fold(f64::NAN, f64::max);
                        li {
                            span class=(format!("swatch s{}", i % 8)) {}
                            (l.label) ": "
                            @if let Some(v) = last { strong { (format::value(c.unit, v)) } }
                            span.muted { " (max " (format::value(c.unit, peak)) ")" }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pganalytics_domain::console::charts::Line;

    #[test]
    fn nice_ceilings_and_ticks() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(1200.0), 2000.0);
        let ticks = time_ticks(0, 3600);
        assert_eq!(ticks, vec![600, 1200, 1800, 2400, 3000]);
        assert!(time_ticks(0, 365 * 86400).len() <= 6);
    }

    #[test]
    fn a_gap_breaks_the_line_and_values_are_kept_for_the_script() {
        let c = Chart {
            id: "t",
            title: "T",
            unit: Unit::PerSecond,
            lines: vec![Line {
                label: "a".into(),
                points: vec![(0, 1.0), (60, 2.0), (300, 4.0)],
            }],
        };
        let s = svg(&c, 0, 360, 60).into_string();
        assert_eq!(
            s.matches('M').count(),
            1 + 1,
            "one move for the start, one after the gap: {s}"
        );
        assert!(s.contains(r#"data-values="0:1;60:2;300:4;""#), "{s}");
        assert!(s.contains("latest a 4/s"), "{s}");
        assert!(!s.contains("http"), "no namespace URL or link: {s}");
        let empty = Chart { lines: vec![], ..c };
        assert!(
            svg(&empty, 0, 360, 60)
                .into_string()
                .contains("No data in this range.")
        );
    }
}
