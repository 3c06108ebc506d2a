//! Alert rules: the file format people write (TOML, `[[rule]]` tables) and its validation
//! into a [`Rule`] the evaluator runs.
//!
//! ```toml
//! [[rule]]
//! name = "pg_idle_in_transaction"
//! severity = "warning"
//! for = "2m"
//! summary = "{{ server }}: a session is idle in transaction for {{ value | duration }}"
//! runbook = "Find it in pg_stat_activity; terminate it or fix the application."
//! [rule.condition]
//! type = "metric"
//! family = "pg_activity"
//! column = "longest_idle_in_xact_seconds"
//! aggregate = "max"
//! by = ["datname"]
//! op = ">"
//! threshold = 300
//! critical = 1800
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::matcher::{Matcher, is_label_name};
use super::span::Span;
use super::template::Template;
use crate::catalog::{self, ColumnKind, ColumnSpec, FamilySpec, Group};
use crate::logs::Category;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Self::Info),
            "warning" => Some(Self::Warning),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl CmpOp {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Gt => value > threshold,
            Self::Ge => value >= threshold,
            Self::Lt => value < threshold,
            Self::Le => value <= threshold,
            Self::Eq => (value - threshold).abs() < f64::EPSILON,
            Self::Ne => (value - threshold).abs() >= f64::EPSILON,
        }
    }
}

/// How a series' readings in the window become one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// The latest reading.
    #[default]
    Last,
    Avg,
    Min,
    Max,
    /// The sum of the readings (of gauges that hold per-interval amounts, like statements').
    Sum,
    /// Per second over the window; counters through the reset-aware increase.
    Rate,
    /// The increase over the window (counters: reset-aware); gauges: last minus first.
    Delta,
    /// Seconds between a timestamp column's latest reading and now.
    Age,
    /// The value a straight line fitted to the window reaches `horizon` from now.
    Predict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Max,
    Min,
    Avg,
    Sum,
}

/// A per-series condition that must hold as well (on its latest reading), such as "only
/// tables with more than 10,000 rows".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    pub column: String,
    #[serde(default)]
    pub function: Function,
    pub op: CmpOp,
    pub value: f64,
}

fn default_op_ge() -> CmpOp {
    CmpOp::Ge
}
fn default_intervals() -> u32 {
    3
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub family: String,
    /// One column, or use `numerator` (summed columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numerator: Vec<String>,
    /// Makes the value a ratio: numerator ÷ the sum of these columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denominator: Vec<String>,
    /// Series whose denominator is below this are not judged (too little traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_denominator: Option<f64>,
    /// Label matchers on the family's labels: `["state=idle in transaction"]`.
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<Matcher>,
    #[serde(default)]
    pub function: Function,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<Span>,
    /// Compares with the series' own past: the value becomes the window's value divided by
    /// the same function over this much time before the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardSpec>,
    pub op: CmpOp,
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Event kinds (`deadlock`, `process_crashed`, …, or a SQLSTATE class name such as
    /// `data_exception` for errors no template identifies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<String>,
    /// SQLSTATE classes (the first two characters), e.g. `"53"` for insufficient resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sqlstate_classes: Vec<String>,
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<Matcher>,
    pub window: Span,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by: Vec<String>,
    #[serde(default = "default_op_ge")]
    pub op: CmpOp,
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbsenceSpec {
    /// `collector` (the agent stopped checking in) or a family name.
    pub of: String,
    /// Silent for this many of its collection intervals.
    #[serde(default = "default_intervals")]
    pub intervals: u32,
    /// The interval of a family no collector group schedules (`agent`, `pg_log_event`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Span>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSpec {
    /// A read-only query over the `metrics` schema returning a numeric `value` column, an
    /// optional `server_id` and text columns as labels.
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Span>,
    pub op: CmpOp,
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    /// Fires when a collector's certificate expires within this (agents renew long before:
    /// a certificate this close to its end means renewal is failing).
    pub within: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConditionSpec {
    Metric(MetricSpec),
    Log(LogSpec),
    Absence(AbsenceSpec),
    Sql(SqlSpec),
    Certificate(CertificateSpec),
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

/// One rule as written in a rule file (and as the API takes and returns it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    pub severity: Severity,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for")]
    pub for_: Span,
    /// A firing alert stays firing at least this long, so a flapping value pages once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_firing: Option<Span>,
    pub summary: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runbook: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Which servers it watches: matchers on `server`, `collector` and the condition's labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<Matcher>,
    pub condition: ConditionSpec,
}

/// A rule file: `[[rule]]` tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
}

/// A problem with one field of one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path inside the rule: `condition.family`, `summary`.
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The longest a rule may look back, and the longest `for`: a month.
pub const MAX_SPAN: i64 = 31 * 86_400;
/// The default `min_firing`.
pub const DEFAULT_MIN_FIRING: Span = Span::seconds(300);
/// The default window of a metric condition.
pub const DEFAULT_WINDOW: Span = Span::seconds(600);
/// The default timeout of an SQL condition, and the longest allowed.
pub const DEFAULT_SQL_TIMEOUT: Span = Span::seconds(5);
pub const MAX_SQL_TIMEOUT: i64 = 30;

/// A validated rule, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Rule {
    pub spec: RuleSpec,
    pub condition: Condition,
    pub summary: Template,
    pub description: Template,
    pub min_firing: Span,
}

#[derive(Debug, Clone)]
pub struct Thresholds {
    pub op: CmpOp,
    pub threshold: f64,
    pub critical: Option<f64>,
}

#[derive(Debug, Clone)]
pub enum Condition {
    Metric(MetricCondition),
    Log(LogCondition),
    Absence(AbsenceCondition),
    Sql(SqlCondition),
    Certificate { within: Span },
}

#[derive(Debug, Clone)]
pub struct MetricCondition {
    pub family: &'static FamilySpec,
    /// The columns read, each once.
    pub columns: Vec<&'static ColumnSpec>,
    /// Indexes into `columns`.
    pub numerator: Vec<usize>,
    pub denominator: Vec<usize>,
    pub min_denominator: Option<f64>,
    pub filter: Vec<Matcher>,
    pub function: Function,
    pub window: Span,
    pub horizon: Span,
    pub baseline: Option<Span>,
    pub aggregate: Option<Aggregate>,
    pub by: Vec<String>,
    pub guard: Option<Guard>,
    pub thresholds: Thresholds,
    /// Whether the numerator columns are counters.
    pub counter: bool,
}

#[derive(Debug, Clone)]
pub struct Guard {
    pub column: usize,
    pub function: Function,
    pub op: CmpOp,
    pub value: f64,
}

#[derive(Debug, Clone)]
pub struct LogCondition {
    pub categories: Vec<String>,
    pub kinds: Vec<String>,
    pub severities: Vec<String>,
    pub sqlstate_classes: Vec<String>,
    pub filter: Vec<Matcher>,
    pub window: Span,
    pub by: Vec<String>,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone)]
pub enum AbsenceTarget {
    Collector,
    Family(&'static FamilySpec),
}

#[derive(Debug, Clone)]
pub struct AbsenceCondition {
    pub target: AbsenceTarget,
    pub intervals: u32,
    pub interval: Option<Span>,
}

#[derive(Debug, Clone)]
pub struct SqlCondition {
    pub query: String,
    pub timeout: Span,
    pub thresholds: Thresholds,
}

/// Labels every alert carries, whatever its condition.
pub const SERVER_LABELS: [&str; 3] = ["server", "collector", "server_id"];
/// Names a template may use besides labels.
const TEMPLATE_VALUES: [&str; 4] = ["value", "threshold", "severity", "rule"];

impl Rule {
    /// Validates a rule against the metric catalog.
    ///
    /// # Errors
    /// Every problem found, each naming its field.
    pub fn from_spec(spec: RuleSpec) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        check_name(&spec.name, &mut errors);
        if spec.for_.as_seconds() > MAX_SPAN {
            errors.push(err("for", "at most 31 days"));
        }
        let min_firing = spec.min_firing.unwrap_or(DEFAULT_MIN_FIRING);
        if min_firing.as_seconds() > MAX_SPAN {
            errors.push(err("min_firing", "at most 31 days"));
        }
        for (k, v) in &spec.labels {
            if !is_label_name(k) || SERVER_LABELS.contains(&k.as_str()) {
                errors.push(err(
                    "labels",
                    format!("{k:?} cannot be a rule label (lower-case letters, digits and _; not server, collector, server_id)"),
                ));
            }
            if v.chars().any(char::is_control) || v.len() > 1024 {
                errors.push(err(
                    "labels",
                    format!("the value of {k:?} is not a plain line"),
                ));
            }
        }
        if spec.summary.trim().is_empty() {
            errors.push(err("summary", "a rule needs a summary"));
        }
        let condition = match validate_condition(&spec.condition) {
            Ok(c) => Some(c),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        };
        let known = condition.as_ref().and_then(|c| template_names(c, &spec));
        let summary = parse_template("summary", &spec.summary, known.as_ref(), &mut errors);
        let description = parse_template(
            "description",
            &spec.description,
            known.as_ref(),
            &mut errors,
        );
        match (condition, summary, description, errors.is_empty()) {
            (Some(condition), Some(summary), Some(description), true) => Ok(Self {
                condition,
                summary,
                description,
                min_firing,
                spec,
            }),
            _ => Err(errors),
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The labels a scope matcher may test before any data is read.
    pub fn server_scope(&self) -> impl Iterator<Item = &Matcher> {
        self.spec
            .scope
            .iter()
            .filter(|m| SERVER_LABELS.contains(&m.label()))
    }
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !ok {
        errors.push(err(
            "name",
            format!("{name:?} is not a rule name (lower-case letters, digits and _, at most 100, starting with a letter)"),
        ));
    }
}

fn parse_template(
    field: &str,
    text: &str,
    known: Option<&BTreeSet<String>>,
    errors: &mut Vec<FieldError>,
) -> Option<Template> {
    match Template::parse(text) {
        Ok(t) => {
            if let Some(known) = known {
                for name in t.names() {
                    if !known.contains(name) {
                        errors.push(err(
                            field,
                            format!(
                                "{{{{ {name} }}}} is not a label of this rule's alerts; they have: {}",
                                known.iter().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
            Some(t)
        }
        Err(e) => {
            errors.push(err(field, e));
            None
        }
    }
}

/// Every name a template of this rule may use; `None` for SQL rules, whose labels are only
/// known when the query runs.
fn template_names(c: &Condition, spec: &RuleSpec) -> Option<BTreeSet<String>> {
    let mut names: BTreeSet<String> = SERVER_LABELS
        .iter()
        .chain(TEMPLATE_VALUES.iter())
        .map(|s| (*s).to_owned())
        .collect();
    names.extend(spec.labels.keys().cloned());
    match c {
        Condition::Metric(m) => {
            if m.aggregate.is_some() {
                names.extend(m.by.iter().cloned());
            } else {
                names.extend(m.family.labels().map(|l| l.name.to_owned()));
            }
        }
        Condition::Log(l) => names.extend(l.by.iter().cloned()),
        Condition::Absence(a) => {
            if matches!(a.target, AbsenceTarget::Family(_)) {
                names.insert("family".into());
            }
        }
        Condition::Certificate { .. } => {
            names.insert("not_after".into());
        }
        Condition::Sql(_) => return None,
    }
    Some(names)
}

fn thresholds(
    op: CmpOp,
    threshold: f64,
    critical: Option<f64>,
    errors: &mut Vec<FieldError>,
) -> Thresholds {
    if !threshold.is_finite() {
        errors.push(err("condition.threshold", "must be a finite number"));
    }
    if let Some(c) = critical {
        if !c.is_finite() {
            errors.push(err("condition.critical", "must be a finite number"));
        } else if matches!(op, CmpOp::Eq | CmpOp::Ne) {
            errors.push(err(
                "condition.critical",
                "a second threshold needs an ordering operator (> >= < <=)",
            ));
        } else if !op.holds(c, threshold) && c != threshold {
            errors.push(err(
                "condition.critical",
                format!("must lie beyond the threshold in the direction of the operator (critical {c} vs threshold {threshold})"),
            ));
        }
    }
    Thresholds {
        op,
        threshold,
        critical,
    }
}

fn window_of(field: &str, w: Span, errors: &mut Vec<FieldError>) -> Span {
    if w.as_seconds() < 1 || w.as_seconds() > MAX_SPAN {
        errors.push(err(field, "must be between 1 second and 31 days"));
    }
    w
}

fn validate_condition(c: &ConditionSpec) -> Result<Condition, Vec<FieldError>> {
    let mut errors = Vec::new();
    let condition = match c {
        ConditionSpec::Metric(m) => Condition::Metric(validate_metric(m, &mut errors)),
        ConditionSpec::Log(l) => Condition::Log(validate_log(l, &mut errors)),
        ConditionSpec::Absence(a) => match validate_absence(a, &mut errors) {
            Some(a) => Condition::Absence(a),
            None => return Err(errors),
        },
        ConditionSpec::Sql(s) => Condition::Sql(validate_sql(s, &mut errors)),
        ConditionSpec::Certificate(c) => Condition::Certificate {
            within: window_of("condition.within", c.within, &mut errors),
        },
    };
    if errors.is_empty() {
        Ok(condition)
    } else {
        Err(errors)
    }
}

fn numeric(kind: ColumnKind) -> bool {
    matches!(
        kind,
        ColumnKind::Counter | ColumnKind::Gauge | ColumnKind::Timestamp
    )
}

fn validate_metric(m: &MetricSpec, errors: &mut Vec<FieldError>) -> MetricCondition {
    let family = catalog::family(&m.family);
    if family.is_none() {
        errors.push(err(
            "condition.family",
            format!("unknown metric family {:?}", m.family),
        ));
    }
    let family = family.unwrap_or(&catalog::FAMILIES[0]);
    let mut columns: Vec<&'static ColumnSpec> = Vec::new();
    let mut index_of = |field: &str, name: &str, errors: &mut Vec<FieldError>| -> Option<usize> {
        let Some((_, col)) = family.column(name).filter(|(_, c)| numeric(c.kind)) else {
            errors.push(err(
                field,
                format!("family {} has no numeric column {name:?}", family.name),
            ));
            return None;
        };
        Some(match columns.iter().position(|c| c.name == col.name) {
            Some(i) => i,
            None => {
                columns.push(col);
                columns.len() - 1
            }
        })
    };
    let mut numerator_names: Vec<&String> = m.column.iter().collect();
    numerator_names.extend(m.numerator.iter());
    if numerator_names.is_empty() {
        errors.push(err(
            "condition.column",
            "name a `column` (or `numerator` columns)",
        ));
    }
    if m.column.is_some() && !m.numerator.is_empty() {
        errors.push(err(
            "condition.numerator",
            "give `column` or `numerator`, not both",
        ));
    }
    let numerator: Vec<usize> = numerator_names
        .iter()
        .filter_map(|n| index_of("condition.column", n, errors))
        .collect();
    let denominator: Vec<usize> = m
        .denominator
        .iter()
        .filter_map(|n| index_of("condition.denominator", n, errors))
        .collect();
    let guard = m.guard.as_ref().and_then(|g| {
        if !matches!(g.function, Function::Last | Function::Age) {
            errors.push(err(
                "condition.guard.function",
                "a guard reads `last` or `age`",
            ));
        }
        index_of("condition.guard.column", &g.column, errors).map(|column| Guard {
            column,
            function: g.function,
            op: g.op,
            value: g.value,
        })
    });
    let kinds: BTreeSet<&str> = numerator
        .iter()
        .chain(denominator.iter())
        .map(|&i| columns[i].kind.as_str())
        .collect();
    if kinds.len() > 1 {
        errors.push(err(
            "condition.denominator",
            "all columns of a value are of one kind (all counters or all gauges)",
        ));
    }
    let counter = numerator
        .first()
        .is_some_and(|&i| columns[i].kind == ColumnKind::Counter);
    let timestamp = numerator
        .first()
        .is_some_and(|&i| columns[i].kind == ColumnKind::Timestamp);
    match m.function {
        Function::Age if !timestamp => {
            errors.push(err("condition.function", "`age` reads a timestamp column"))
        }
        Function::Age => {}
        _ if timestamp => errors.push(err(
            "condition.function",
            "a timestamp column is read with `age`",
        )),
        Function::Predict if m.horizon.is_none() => errors.push(err(
            "condition.horizon",
            "`predict` needs a `horizon` (e.g. \"24h\")",
        )),
        Function::Avg | Function::Min | Function::Max | Function::Sum | Function::Predict
            if counter =>
        {
            errors.push(err(
                "condition.function",
                "a counter is read with `rate` or `delta` (its raw value only ever grows)",
            ))
        }
        _ => {}
    }
    if m.horizon.is_some() && m.function != Function::Predict {
        errors.push(err("condition.horizon", "only `predict` has a horizon"));
    }
    if let Some(b) = m.baseline {
        window_of("condition.baseline", b, errors);
        if matches!(m.function, Function::Predict | Function::Age) {
            errors.push(err(
                "condition.baseline",
                "a baseline compares values, not an age or a prediction",
            ));
        }
    }
    let labels: BTreeSet<&str> = family.labels().map(|l| l.name).collect();
    for f in &m.filter {
        if !labels.contains(f.label()) {
            errors.push(err(
                "condition.where",
                format!("family {} has no label {:?}", family.name, f.label()),
            ));
        }
    }
    if m.aggregate.is_none() && !m.by.is_empty() {
        errors.push(err("condition.by", "`by` goes with an `aggregate`"));
    }
    for b in &m.by {
        if !labels.contains(b.as_str()) {
            errors.push(err(
                "condition.by",
                format!("family {} has no label {b:?}", family.name),
            ));
        }
    }
    if m.min_denominator.is_some() && denominator.is_empty() {
        errors.push(err(
            "condition.min_denominator",
            "only a ratio has a denominator",
        ));
    }
    let window = window_of(
        "condition.window",
        m.window.unwrap_or(DEFAULT_WINDOW),
        errors,
    );
    let horizon = m.horizon.unwrap_or(Span::ZERO);
    if horizon.as_seconds() > 366 * 86_400 {
        errors.push(err("condition.horizon", "at most a year"));
    }
    MetricCondition {
        family,
        columns,
        numerator,
        denominator,
        min_denominator: m.min_denominator,
        filter: m.filter.clone(),
        function: m.function,
        window,
        horizon,
        baseline: m.baseline,
        aggregate: m.aggregate,
        by: m.by.clone(),
        guard,
        thresholds: thresholds(m.op, m.threshold, m.critical, errors),
        counter,
    }
}

fn validate_log(l: &LogSpec, errors: &mut Vec<FieldError>) -> LogCondition {
    for c in &l.categories {
        if !Category::ALL.iter().any(|k| k.as_str() == c) {
            errors.push(err(
                "condition.categories",
                format!(
                    "unknown event category {c:?}; the categories are {}",
                    Category::ALL.map(Category::as_str).join(", ")
                ),
            ));
        }
    }
    for k in &l.kinds {
        if !crate::logs::kinds::is_kind(k) {
            errors.push(err(
                "condition.kinds",
                format!("unknown event kind {k:?}; docs/log-events.md lists the kinds"),
            ));
        }
    }
    for s in &l.severities {
        if !crate::logs::SEVERITIES.contains(&s.as_str()) {
            errors.push(err(
                "condition.severities",
                format!("unknown severity {s:?} (ERROR, FATAL, PANIC, WARNING, LOG, …)"),
            ));
        }
    }
    for c in &l.sqlstate_classes {
        if c.len() != 2
            || !c
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        {
            errors.push(err(
                "condition.sqlstate_classes",
                format!("{c:?} is not a SQLSTATE class (two characters such as \"53\" or \"XX\")"),
            ));
        }
    }
    let family = catalog::family("pg_log_event").expect("catalog");
    let labels: BTreeSet<&str> = family.labels().map(|c| c.name).collect();
    for b in
        l.by.iter()
            .map(String::as_str)
            .chain(l.filter.iter().map(Matcher::label))
    {
        if !labels.contains(b) {
            errors.push(err(
                "condition.by",
                format!(
                    "log events have no label {b:?}; they have {}",
                    labels.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    LogCondition {
        categories: l.categories.clone(),
        kinds: l.kinds.clone(),
        severities: l.severities.clone(),
        sqlstate_classes: l.sqlstate_classes.clone(),
        filter: l.filter.clone(),
        window: window_of("condition.window", l.window, errors),
        by: l.by.clone(),
        thresholds: thresholds(l.op, l.threshold, l.critical, errors),
    }
}

fn validate_absence(a: &AbsenceSpec, errors: &mut Vec<FieldError>) -> Option<AbsenceCondition> {
    let target = if a.of == "collector" {
        AbsenceTarget::Collector
    } else if let Some(f) = catalog::family(&a.of) {
        AbsenceTarget::Family(f)
    } else {
        errors.push(err(
            "condition.of",
            format!("{:?} is neither `collector` nor a metric family", a.of),
        ));
        return None;
    };
    if a.intervals == 0 || a.intervals > 1000 {
        errors.push(err("condition.intervals", "between 1 and 1000"));
    }
    if let AbsenceTarget::Family(f) = target
        && f.group.is_none()
        && a.interval.is_none()
    {
        errors.push(err(
            "condition.interval",
            format!(
                "{} is not collected on a schedule: give its `interval`",
                f.name
            ),
        ));
    }
    if let Some(i) = a.interval {
        window_of("condition.interval", i, errors);
    }
    Some(AbsenceCondition {
        target,
        intervals: a.intervals,
        interval: a.interval,
    })
}

fn validate_sql(s: &SqlSpec, errors: &mut Vec<FieldError>) -> SqlCondition {
    let q = s.query.trim();
    if q.is_empty() {
        errors.push(err("condition.query", "an SQL rule needs a query"));
    }
    if q.len() > 16_384 {
        errors.push(err("condition.query", "at most 16 KiB"));
    }
    if q.contains('\0') {
        errors.push(err("condition.query", "the query holds a NUL character"));
    }
    let timeout = s.timeout.unwrap_or(DEFAULT_SQL_TIMEOUT);
    if timeout.as_seconds() < 1 || timeout.as_seconds() > MAX_SQL_TIMEOUT {
        errors.push(err(
            "condition.timeout",
            format!("between 1 and {MAX_SQL_TIMEOUT} seconds"),
        ));
    }
    SqlCondition {
        query: q.to_owned(),
        timeout,
        thresholds: thresholds(s.op, s.threshold, s.critical, errors),
    }
}

impl Thresholds {
    /// The severity a value deserves: `base` past the threshold, critical past the second.
    /// With the threshold crossed.
    pub fn judge(&self, value: f64, base: Severity) -> Option<(Severity, f64)> {
        if let Some(c) = self.critical
            && self.op.holds(value, c)
        {
            return Some((Severity::Critical, c));
        }
        self.op
            .holds(value, self.threshold)
            .then_some((base, self.threshold))
    }
}

/// The interval a family is collected at on a server, from its collector's configuration.
pub fn family_interval(
    family: &FamilySpec,
    intervals: &crate::config::Intervals,
    fallback: Option<Span>,
) -> Option<Span> {
    match family.group {
        Some(g) => Some(Span::seconds(g.interval(intervals).as_secs() as i64)),
        None => fallback,
    }
}

/// The shortest interval of any group: how often a healthy agent pushes at least.
pub fn push_interval(intervals: &crate::config::Intervals) -> Span {
    let shortest = Group::ALL
        .iter()
        .map(|g| g.interval(intervals).as_secs())
        .min()
        .unwrap_or(60);
    Span::seconds(shortest as i64)
}
