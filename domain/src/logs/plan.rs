//! auto_explain plans with their literals taken out: the query text through the SQL lexer,
//! parameters dropped, and every expression (filters, conditions, outputs, keys) through
//! the lexer too, while node types, names, costs, rows and timings stay.

use serde_json::Value;

use super::catalog::Redaction;
use super::kinds::RedactClass;
use crate::redact::redact_sql;

/// Keys of a JSON plan whose string values are names or words, never user data.
const JSON_KEPT: &[&str] = &[
    "Node Type",
    "Parent Relationship",
    "Relation Name",
    "Schema",
    "Alias",
    "Index Name",
    "Strategy",
    "Join Type",
    "Scan Direction",
    "Sort Method",
    "Sort Space Type",
    "Operation",
    "Partial Mode",
    "Command",
    "Subplan Name",
    "CTE Name",
    "Function Name",
    "Parallel Aware",
    "Async Capable",
    "Inner Unique",
    "Single Copy",
    "Query Identifier",
];

/// Labels of a text plan's lines whose values are figures, never user data.
const TEXT_KEPT: &[&str] = &[
    "Buffers",
    "Planning",
    "Planning Time",
    "Execution Time",
    "Rows Removed by Filter",
    "Rows Removed by Join Filter",
    "Rows Removed by Index Recheck",
    "Heap Fetches",
    "Sort Method",
    "Workers Planned",
    "Workers Launched",
    "Batches",
    "Buckets",
    "Memory Usage",
    "Hits",
    "I/O Timings",
    "WAL",
    "Query Identifier",
    "Heap Blocks",
    "Trigger",
    "JIT",
    "Functions",
    "Options",
    "Timing",
    "Full-sort Groups",
    "Pre-sorted Groups",
    "Worker 0",
    "Worker 1",
    "Worker 2",
    "Worker 3",
];

/// The plan text of an auto_explain message, redacted as `redaction` says.
pub fn redact_plan(plan: &str, redaction: &Redaction) -> String {
    let statements = redaction.filters(RedactClass::StatementText);
    let parameters = redaction.filters(RedactClass::StatementParameter);
    if !statements && !parameters {
        return plan.to_owned();
    }
    let trimmed = plan.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(mut v) => {
                redact_json(&mut v, None, statements, parameters);
                serde_json::to_string_pretty(&v).unwrap_or_default()
            }
            // Cut or broken JSON: every literal goes, as in any SQL.
            Err(_) => redact_sql(plan),
        };
    }
    redact_text(plan, statements, parameters)
}

fn redact_json(v: &mut Value, key: Option<&str>, statements: bool, parameters: bool) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                redact_json(child, Some(k), statements, parameters);
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_json(item, key, statements, parameters);
            }
        }
        Value::String(s) => match key {
            Some("Query Parameters") if parameters => *s = "?".to_owned(),
            Some(k) if JSON_KEPT.contains(&k) => {}
            _ if statements => *s = redact_sql(s),
            _ => {}
        },
        _ => {}
    }
}

fn redact_text(plan: &str, statements: bool, parameters: bool) -> String {
    let mut out = String::with_capacity(plan.len());
    // The query text runs from `Query Text:` to the first plan node (a line with costs).
    let mut in_query = false;
    for (i, line) in plan.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        if let Some(q) = body.strip_prefix("Query Text:") {
            in_query = true;
            out.push_str(indent);
            out.push_str("Query Text:");
            out.push_str(&if statements {
                redact_sql(q)
            } else {
                q.to_owned()
            });
            continue;
        }
        let node = body.contains("(cost=") || body.contains("(actual ") || body.starts_with("->");
        if in_query && !node {
            out.push_str(&if statements {
                redact_sql(line)
            } else {
                line.to_owned()
            });
            continue;
        }
        in_query = false;
        if let Some(p) = body.strip_prefix("Query Parameters:") {
            out.push_str(indent);
            out.push_str("Query Parameters:");
            out.push_str(if parameters { " ?" } else { p });
            continue;
        }
        match body.split_once(": ") {
            Some((label, value)) if !node => {
                let label_plain = label.trim_start_matches("-> ");
                if TEXT_KEPT.contains(&label_plain) || !statements {
                    out.push_str(line);
                } else {
                    out.push_str(indent);
                    out.push_str(label);
                    out.push_str(": ");
                    out.push_str(&redact_sql(value));
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_plans_keep_their_shape_and_lose_their_literals() {
        let plan = "Query Text: SELECT * FROM accounts WHERE email = 'alice@example.com'
  AND id > 41
Seq Scan on accounts  (cost=0.00..25.88 rows=6 width=36) (actual time=0.010..0.011 rows=1 loops=1)
  Filter: ((email = 'alice@example.com'::text) AND (id > 41))
  Rows Removed by Filter: 9";
        let out = redact_plan(plan, &Redaction::default());
        assert!(!out.contains("alice") && !out.contains("41"), "{out}");
        assert!(
            out.contains("Seq Scan on accounts  (cost=0.00..25.88 rows=6 width=36)"),
            "{out}"
        );
        assert!(out.contains("Rows Removed by Filter: 9"), "{out}");
    }

    #[test]
    fn json_plans_lose_query_literals_and_parameters() {
        let plan = r#"{
  "Query Text": "SELECT * FROM t WHERE a = $1 AND b = 'secret' AND c = 4242",
  "Query Parameters": "$1 = 'hunter2'",
  "Plan": {
    "Node Type": "Seq Scan",
    "Relation Name": "t",
    "Total Cost": 35.5,
    "Filter": "((a = 'x9y'::text) AND (c = 4242))",
    "Output": ["a", "'const'::text"]
  }
}"#;
        let out = redact_plan(plan, &Redaction::default());
        for secret in ["secret", "4242", "hunter2", "x9y", "const"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(
            out.contains("\"Seq Scan\"") && out.contains("35.5"),
            "{out}"
        );
    }
}
