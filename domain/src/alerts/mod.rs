//! Alerting: rules as code, their evaluation over stored metrics, and the life of each
//! alert. Pure: the store reads what [`eval::need`] asks for, time comes in as `now`.

pub mod builtin;
pub mod channel;
pub mod eval;
pub mod fold;
pub mod matcher;
pub mod rule;
pub mod silence;
pub mod span;
pub mod state;
pub mod template;
pub mod testfile;

pub use rule::{Rule, RuleFile, RuleSpec, Severity};
pub use span::Span;

/// A problem in a rule file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {rule}{message}")]
pub struct FileError {
    pub line: usize,
    pub column: usize,
    /// `rule "name": ` when the problem is inside a named rule.
    pub rule: String,
    pub message: String,
}

/// Parses and validates a rule file; every problem is reported with its line.
///
/// # Errors
/// The syntax error, or every invalid field of every rule, and duplicate names.
pub fn parse_file(text: &str) -> Result<Vec<Rule>, Vec<FileError>> {
    let file: RuleFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        vec![FileError {
            line,
            column,
            rule: String::new(),
            message: e.message().trim().to_owned(),
        }]
    })?;
    let spans = Spans::of(text);
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, spec) in file.rules.into_iter().enumerate() {
        let named = format!("rule {:?}: ", spec.name);
        if !names.insert(spec.name.clone()) {
            let (line, column) = spans.field(text, i, "name");
            errors.push(FileError {
                line,
                column,
                rule: named.clone(),
                message: "a rule of this name is already in the file".into(),
            });
        }
        match Rule::from_spec(spec) {
            Ok(r) => rules.push(r),
            Err(es) => errors.extend(es.into_iter().map(|e| {
                let (line, column) = spans.field(text, i, &e.field);
                FileError {
                    line,
                    column,
                    rule: named.clone(),
                    message: e.to_string(),
                }
            })),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

/// Writes rules as a rule file.
pub fn to_file(rules: &[RuleSpec]) -> String {
    toml::to_string(&RuleFile {
        rules: rules.to_vec(),
    })
    .unwrap_or_default()
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Where each rule's fields are in the text.
struct Spans {
    /// Per rule: the start of its table, and its fields by dotted path.
    rules: Vec<(usize, std::collections::BTreeMap<String, usize>)>,
}

impl Spans {
    fn of(text: &str) -> Self {
        use toml::de::{DeTable, DeValue};
        let mut rules = Vec::new();
        let Ok(doc) = DeTable::parse(text) else {
            return Self { rules };
        };
        fn walk(
            prefix: &str,
            table: &DeTable<'_>,
            out: &mut std::collections::BTreeMap<String, usize>,
        ) {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k.get_ref().to_string()
                } else {
                    format!("{prefix}.{}", k.get_ref())
                };
                out.insert(path.clone(), v.span().start);
                if let DeValue::Table(t) = v.get_ref() {
                    walk(&path, t, out);
                }
            }
        }
        if let Some(v) = doc.get_ref().get("rule")
            && let DeValue::Array(a) = v.get_ref()
        {
            for item in a.iter() {
                let mut fields = std::collections::BTreeMap::new();
                if let DeValue::Table(t) = item.get_ref() {
                    walk("", t, &mut fields);
                }
                rules.push((item.span().start, fields));
            }
        }
        Self { rules }
    }

    /// The line and column of a rule's field, or of its parent, or of the rule.
    fn field(&self, text: &str, rule: usize, field: &str) -> (usize, usize) {
        let Some((start, fields)) = self.rules.get(rule) else {
            return (1, 1);
        };
        let mut path = field;
        loop {
            if let Some(&at) = fields.get(path) {
                return line_col(text, at);
            }
            match path.rsplit_once('.') {
                Some((parent, _)) => path = parent,
                None => return line_col(text, *start),
            }
        }
    }
}

#[cfg(test)]
mod tests;
