//! Readings folded per series, so a rule whose function is last / avg / min / max / sum /
//! age reads one row per series instead of every reading: the store folds (in SQL, or with
//! [`fold_rows`]). Folds merge exactly, so an hour folded once can be kept and merged with
//! the next (a baseline of a day or a week is read one hour at a time, each hour once).

use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

use super::eval::Row;
use super::rule::{Function, MetricCondition};

/// The readings of one expression of one series, folded. A store may fold only what the
/// expression's function needs (see [`FoldExpr`]); the parts it leaves out hold their
/// neutral value ([`Fold::EMPTY`]), so folds of one expression still merge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fold {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The latest reading, and its time.
    pub last: f64,
    pub last_time: OffsetDateTime,
}

impl Fold {
    /// No reading: what every part starts from.
    pub const EMPTY: Fold = Fold {
        count: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        last: f64::NAN,
        last_time: OffsetDateTime::UNIX_EPOCH,
    };

    pub fn of(time: OffsetDateTime, value: f64) -> Self {
        Self {
            count: 1,
            sum: value,
            min: value,
            max: value,
            last: value,
            last_time: time,
        }
    }

    pub fn merge(&mut self, other: &Fold) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.last_time >= self.last_time {
            self.last = other.last;
            self.last_time = other.last_time;
        }
    }

    /// `f` over the folded readings; `None` for a function folds cannot answer.
    pub fn value(&self, f: Function, now: OffsetDateTime) -> Option<f64> {
        match f {
            Function::Last => Some(self.last),
            Function::Avg => Some(self.sum / self.count as f64),
            Function::Min => Some(self.min),
            Function::Max => Some(self.max),
            Function::Sum => Some(self.sum),
            Function::Age => Some((now.unix_timestamp_nanos() as f64 / 1e9) - self.last),
            Function::Rate | Function::Delta | Function::Predict => None,
        }
    }
}

/// Whether folds answer `f` (rates, deltas and predictions need every reading).
pub fn foldable(f: Function) -> bool {
    !matches!(f, Function::Rate | Function::Delta | Function::Predict)
}

/// One series (server + every label): a fold per expression, `None` where the expression
/// had no reading.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedRow {
    pub server_id: i64,
    pub labels: Vec<Option<String>>,
    pub folds: Vec<Option<Fold>>,
}

/// What is folded: a sum of columns (indexes into the need's `columns`; a reading counts
/// only where every column has a value), for `function`.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldExpr {
    pub columns: Vec<usize>,
    pub function: Function,
}

impl FoldExpr {
    /// Which parts of a fold `function` reads: (sum, min, max, last).
    pub fn parts(&self) -> (bool, bool, bool, bool) {
        let f = self.function;
        (
            matches!(f, Function::Sum | Function::Avg),
            f == Function::Min,
            f == Function::Max,
            matches!(f, Function::Last | Function::Age),
        )
    }
}

/// The expressions a metric condition's folds are taken of: the numerator, then the
/// denominator and the guard's column when the rule has them.
pub fn exprs(m: &MetricCondition) -> Vec<FoldExpr> {
    let mut out = vec![FoldExpr {
        columns: m.numerator.clone(),
        function: m.function,
    }];
    if !m.denominator.is_empty() {
        out.push(FoldExpr {
            columns: m.denominator.clone(),
            function: m.function,
        });
    }
    if let Some(g) = &m.guard {
        out.push(FoldExpr {
            columns: vec![g.column],
            function: g.function,
        });
    }
    out
}

/// Whether a metric condition can be evaluated from folds.
pub fn condition_folds(m: &MetricCondition) -> bool {
    foldable(m.function) && m.guard.as_ref().is_none_or(|g| foldable(g.function))
}

/// The start of the UTC hour `t` falls in.
pub fn hour_of(t: OffsetDateTime) -> OffsetDateTime {
    let secs = t.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(secs - secs.rem_euclid(3600))
        .unwrap_or(t)
        .to_offset(t.offset())
}

/// The hours `from..to` (whole hours, `from` and `to` on the hour).
pub fn hours(from: OffsetDateTime, to: OffsetDateTime) -> Vec<OffsetDateTime> {
    let mut out = Vec::new();
    let mut h = hour_of(from);
    while h < to {
        out.push(h);
        h += Duration::HOUR;
    }
    out
}

/// A series: its server and every label.
type SeriesKey = (i64, Vec<Option<String>>);

/// Folds rows (as [`super::eval::RowsNeed`] reads them) per series, every part: what a
/// store without SQL does, and what a store's SQL must agree with.
pub fn fold_rows(rows: &[Row], exprs: &[FoldExpr]) -> Vec<FoldedRow> {
    let mut out: BTreeMap<SeriesKey, Vec<Option<Fold>>> = BTreeMap::new();
    for r in rows {
        let folds = out
            .entry((r.server_id, r.labels.clone()))
            .or_insert_with(|| vec![None; exprs.len()]);
        for (fold, e) in folds.iter_mut().zip(exprs) {
            let value: Option<f64> = e
                .columns
                .iter()
                .map(|&c| r.values.get(c).copied().flatten())
                .sum();
            let Some(v) = value else { continue };
            match fold {
                Some(f) => f.merge(&Fold::of(r.time, v)),
                None => *fold = Some(Fold::of(r.time, v)),
            }
        }
    }
    out.into_iter()
        .map(|((server_id, labels), folds)| FoldedRow {
            server_id,
            labels,
            folds,
        })
        .collect()
}

/// The folds of each series merged (over the hours given): one row per series.
pub fn merge_series<'a>(rows: impl IntoIterator<Item = &'a FoldedRow>) -> Vec<FoldedRow> {
    let mut out: BTreeMap<SeriesKey, FoldedRow> = BTreeMap::new();
    for r in rows {
        match out.get_mut(&(r.server_id, r.labels.clone())) {
            Some(into) => {
                for (a, b) in into.folds.iter_mut().zip(&r.folds) {
                    match (a.as_mut(), b) {
                        (Some(a), Some(b)) => a.merge(b),
                        (None, Some(b)) => *a = Some(*b),
                        (_, None) => {}
                    }
                }
            }
            None => {
                out.insert((r.server_id, r.labels.clone()), r.clone());
            }
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn row(t: OffsetDateTime, label: &str, values: &[Option<f64>]) -> Row {
        Row {
            server_id: 1,
            time: t,
            labels: vec![Some(label.into())],
            values: values.to_vec(),
        }
    }

    #[test]
    fn folds_merge_to_what_the_readings_say() {
        let t = datetime!(2026-11-30 10:59:00 UTC);
        let rows = [
            row(t, "a", &[Some(1.0), Some(10.0)]),
            row(t + Duration::minutes(1), "a", &[Some(3.0), None]),
            row(t + Duration::minutes(2), "a", &[Some(2.0), Some(5.0)]),
            row(t, "b", &[None, Some(7.0)]),
        ];
        let e = |columns: Vec<usize>| FoldExpr {
            columns,
            function: Function::Avg,
        };
        let exprs = [e(vec![0]), e(vec![0, 1])];
        let (first, second) = rows.split_at(1);
        let folded = fold_rows(&rows, &exprs);
        assert_eq!(folded.len(), 2);
        let a = folded[0].folds[0].unwrap();
        assert_eq!(
            (a.count, a.sum, a.min, a.max, a.last),
            (3, 6.0, 1.0, 3.0, 2.0)
        );
        assert_eq!(a.value(Function::Avg, t), Some(2.0));
        // The sum of two columns counts only readings where both have a value.
        let both = folded[0].folds[1].unwrap();
        assert_eq!((both.count, both.sum), (2, 18.0));
        assert_eq!(folded[1].folds, vec![None, None]);
        assert_eq!(a.value(Function::Rate, t), None);
        // Folded in parts and merged: the same.
        let parts = [fold_rows(first, &exprs), fold_rows(second, &exprs)].concat();
        assert_eq!(merge_series(&parts), folded);
        let mut empty = Fold::EMPTY;
        empty.merge(&a);
        assert_eq!(empty, a, "the empty fold is neutral");
    }

    #[test]
    fn hours_are_utc_hours() {
        let t = datetime!(2026-11-30 10:59:59.5 +01:00);
        assert_eq!(hour_of(t), datetime!(2026-11-30 09:00 UTC));
        assert_eq!(
            hours(
                datetime!(2026-11-30 08:30 UTC),
                datetime!(2026-11-30 11:00 UTC)
            )
            .len(),
            3
        );
    }
}
