//! Large catalogs: the counters of rolled-up and summarised relations.
//!
//! On a database with 500,000 relations the agent sends, per cycle, one row per partition
//! tree (its partitions rolled up into the root), full detail for the top N trees by size
//! and by activity and a page of the others (so every tree is seen in detail on a slower
//! cadence), and one [`OTHER`] row per database with the sums of everything else, so the
//! database's totals stay exact.
//!
//! Sums are not counters by themselves: a dropped partition makes its tree's sum go down,
//! and a table moving from the "other" set into the detailed set takes its counts out of
//! the other row. The server reads a counter that goes down as a reset and would see a
//! spike of the whole value ([`crate::rates`]). [`RelationCounters`] keeps both kinds of
//! rows monotonic:
//! - a rolled-up row reports the previous reported value plus the increase of its raw sum,
//!   or nothing when the sum went down (a partition dropped, statistics reset);
//! - the other row reports the increase of the database's total that no row sent in detail
//!   both this cycle and the last accounts for. A relation newly sent in detail starts its
//!   own series at this cycle, its increase during the interval counted by the other row.
//!
//! So over every interval the increases of the detailed rows that were sent in both cycles
//! plus the increase of the other row add up to the database's increase (except when
//! something went down). The state is bounded by the rows sent, not by the catalog.

use std::collections::HashMap;

/// The labels of the row that carries the sums of the relations not sent in detail.
pub const OTHER: &str = "(other)";

/// How long a rolled-up tree's offsets are kept after it was last sent in detail, in cycles:
/// longer than a full rotation of the detail pages on any catalog the benchmarks measure.
const ROLLED_KEPT_CYCLES: u64 = 1_000;

#[derive(Debug)]
struct Rolled {
    prev_raw: Vec<i64>,
    reported: Vec<i64>,
    seen: u64,
}

/// The counters of one family's rows of one database, across cycles.
#[derive(Debug)]
pub struct RelationCounters {
    width: usize,
    cycle: u64,
    /// Raw counters of the rows sent in detail in the last cycle.
    prev_detailed: HashMap<String, Vec<i64>>,
    detailed: HashMap<String, Vec<i64>>,
    /// Sum of the raw counters of this cycle's detailed rows.
    detailed_sum: Vec<i64>,
    /// Sum of the raw increases of the rows detailed in both cycles.
    known_increase: Vec<i64>,
    prev_total: Option<Vec<i64>>,
    other_reported: Vec<i64>,
    rolled: HashMap<String, Rolled>,
}

fn raw(counters: &[Option<i64>]) -> Vec<i64> {
    counters.iter().map(|c| c.unwrap_or(0)).collect()
}

/// Writes `values` over the counters that have a value.
fn report(counters: &mut [Option<i64>], values: &[i64]) {
    for (c, v) in counters.iter_mut().zip(values) {
        if c.is_some() {
            *c = Some(*v);
        }
    }
}

impl RelationCounters {
    /// For rows with `width` counters.
    pub fn new(width: usize) -> Self {
        Self {
            width,
            cycle: 0,
            prev_detailed: HashMap::new(),
            detailed: HashMap::new(),
            detailed_sum: vec![0; width],
            known_increase: vec![0; width],
            prev_total: None,
            other_reported: vec![0; width],
            rolled: HashMap::new(),
        }
    }

    /// A row sent in detail this cycle: `key` names it within the database, `rolled` says
    /// whether it stands for more than one relation. Its counters are rewritten in place
    /// when it is rolled up.
    pub fn detailed(&mut self, key: &str, rolled: bool, counters: &mut [Option<i64>]) {
        assert_eq!(counters.len(), self.width, "counter count");
        let now = raw(counters);
        for (sum, v) in self.detailed_sum.iter_mut().zip(&now) {
            *sum += v;
        }
        if let Some(prev) = self.prev_detailed.get(key) {
            for ((inc, v), p) in self.known_increase.iter_mut().zip(&now).zip(prev) {
                *inc += v - p;
            }
        }
        if rolled {
            let cycle = self.cycle;
            let state = self.rolled.entry(key.to_owned()).or_insert_with(|| Rolled {
                prev_raw: now.clone(),
                reported: now.clone(),
                seen: cycle,
            });
            for ((reported, prev), v) in state
                .reported
                .iter_mut()
                .zip(state.prev_raw.iter_mut())
                .zip(&now)
            {
                *reported += (v - *prev).max(0);
                *prev = *v;
            }
            state.seen = cycle;
            report(counters, &state.reported);
        }
        self.detailed.insert(key.to_owned(), now);
    }

    /// The other row, after every detailed row of the cycle: its counters (the raw sums of
    /// the relations not sent in detail) are rewritten in place, and the cycle ends.
    pub fn other(&mut self, counters: &mut [Option<i64>]) {
        assert_eq!(counters.len(), self.width, "counter count");
        let other_raw = raw(counters);
        let total: Vec<i64> = other_raw
            .iter()
            .zip(&self.detailed_sum)
            .map(|(o, d)| o + d)
            .collect();
        match &self.prev_total {
            None => self.other_reported = other_raw,
            Some(prev) => {
                for (((reported, t), p), known) in self
                    .other_reported
                    .iter_mut()
                    .zip(&total)
                    .zip(prev)
                    .zip(&self.known_increase)
                {
                    *reported += (t - p - known).max(0);
                }
            }
        }
        report(counters, &self.other_reported);
        self.prev_total = Some(total);
        self.prev_detailed = std::mem::take(&mut self.detailed);
        self.detailed_sum = vec![0; self.width];
        self.known_increase = vec![0; self.width];
        let cycle = self.cycle;
        self.rolled
            .retain(|_, r| cycle.saturating_sub(r.seen) < ROLLED_KEPT_CYCLES);
        self.cycle += 1;
    }

    /// Rolled-up trees whose offsets are kept.
    pub fn rolled_kept(&self) -> usize {
        self.rolled.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn some(v: &[i64]) -> Vec<Option<i64>> {
        v.iter().copied().map(Some).collect()
    }

    #[test]
    fn a_rolled_up_tree_that_loses_a_partition_never_goes_down() {
        let mut c = RelationCounters::new(1);
        let mut row = some(&[100]);
        c.detailed("m", true, &mut row);
        c.other(&mut some(&[0]));
        assert_eq!(row, some(&[100]));
        // A partition holding 60 of the 100 is dropped; the others counted 5 more.
        let mut row = some(&[45]);
        c.detailed("m", true, &mut row);
        c.other(&mut some(&[0]));
        assert_eq!(row, some(&[100]), "no increase reported for that interval");
        let mut row = some(&[50]);
        c.detailed("m", true, &mut row);
        c.other(&mut some(&[0]));
        assert_eq!(row, some(&[105]));
    }

    #[test]
    fn a_table_promoted_out_of_the_other_row_does_not_make_it_go_down() {
        let mut c = RelationCounters::new(1);
        // Cycle 1: a (10) in detail, b (50) and c (5) in other.
        c.detailed("a", false, &mut some(&[10]));
        let mut other = some(&[55]);
        c.other(&mut other);
        assert_eq!(other, some(&[55]));
        // Cycle 2: a 12, b 70 promoted, c 6 in other. Raw other is 6, but it reports
        // 55 + (88 - 65 - 2) = 76: b's 20 and c's 1.
        c.detailed("a", false, &mut some(&[12]));
        c.detailed("b", false, &mut some(&[70]));
        let mut other = some(&[6]);
        c.other(&mut other);
        assert_eq!(other, some(&[76]));
        // Cycle 3: everything grows by 1; a and b were detailed before: other gains c's 1.
        c.detailed("a", false, &mut some(&[13]));
        c.detailed("b", false, &mut some(&[71]));
        let mut other = some(&[7]);
        c.other(&mut other);
        assert_eq!(other, some(&[77]));
    }

    #[test]
    fn missing_counters_stay_missing() {
        let mut c = RelationCounters::new(2);
        let mut row = vec![Some(5), None];
        c.detailed("m", true, &mut row);
        assert_eq!(row, vec![Some(5), None]);
        let mut other = vec![None, Some(3)];
        c.other(&mut other);
        assert_eq!(other, vec![None, Some(3)]);
    }

    proptest! {
        /// Relations whose counters only grow, a random detailed set each cycle: the
        /// increases of the rows detailed in consecutive cycles plus the other row's add up
        /// to the database's increase, and every reported series only grows.
        #[test]
        fn increases_add_up_to_the_databases_and_never_go_down(
            steps in prop::collection::vec(
                (prop::collection::vec(0i64..1000, 8), prop::collection::vec(any::<bool>(), 8)),
                2..20,
            )
        ) {
            let mut c = RelationCounters::new(1);
            let mut values = [0i64; 8];
            let mut last_reported: HashMap<usize, i64> = HashMap::new();
            let mut last_detailed: Vec<bool> = vec![false; 8];
            let mut last_other: Option<i64> = None;
            let mut last_total = 0i64;
            for (growth, detailed) in steps {
                for (v, g) in values.iter_mut().zip(&growth) {
                    *v += g;
                }
                let total: i64 = values.iter().sum();
                let mut increase = 0;
                for i in 0..8 {
                    if detailed[i] {
                        let mut row = some(&[values[i]]);
                        c.detailed(&i.to_string(), false, &mut row);
                        let now = row[0].unwrap();
                        if last_detailed[i] {
                            increase += now - last_reported[&i];
                        }
                        last_reported.insert(i, now);
                    }
                }
                let rest: i64 = (0..8).filter(|i| !detailed[*i]).map(|i| values[i]).sum();
                let mut other = some(&[rest]);
                c.other(&mut other);
                let other = other[0].unwrap();
                if let Some(prev) = last_other {
                    prop_assert!(other >= prev);
                    increase += other - prev;
                    prop_assert_eq!(increase, total - last_total);
                }
                last_other = Some(other);
                last_total = total;
                last_detailed = detailed;
            }
        }
    }
}
