//! The classifier: every kind's templates compiled in English and, when the server logs in
//! another language, in that language too (from the gettext catalog of the server's own
//! installation), indexed by their first word so a message is tried against a handful of
//! templates only.

use std::collections::HashMap;

use super::fields::EventFields;
use super::kinds::{
    CONTINUATIONS, Category, DETAILS, Field, KINDS, KindSpec, RUSAGE, RUSAGE_ARGS, RedactClass,
    Role, SECONDARY_LABELS, SEVERITY_WORDS, SQLSTATE_CLASSES, Tpl, category_of_class,
};
use super::template::{Spans, Template};
use crate::redact::redact_sql;

/// A message catalog: the translations of a `msgid` (every plural form of an `ngettext`
/// message). Empty when the message is not translated.
pub trait Translations {
    fn forms(&self, msgid: &str, plural: Option<&str>) -> Vec<String>;
}

/// English: no catalog.
#[derive(Debug, Clone, Copy, Default)]
pub struct English;

impl Translations for English {
    fn forms(&self, _: &str, _: Option<&str>) -> Vec<String> {
        Vec::new()
    }
}

/// Which redaction classes are filtered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    filtered: [bool; RedactClass::ALL.len()],
}

impl Default for Redaction {
    fn default() -> Self {
        let mut filtered = [false; RedactClass::ALL.len()];
        for (i, c) in RedactClass::ALL.iter().enumerate() {
            filtered[i] = c.filtered_by_default();
        }
        Self { filtered }
    }
}

impl Redaction {
    /// Every class filtered.
    pub fn all() -> Self {
        Self {
            filtered: [true; RedactClass::ALL.len()],
        }
    }

    pub fn set(&mut self, class: RedactClass, filtered: bool) {
        self.filtered[class as usize] = filtered;
    }

    pub fn filters(&self, class: RedactClass) -> bool {
        self.filtered[class as usize]
    }
}

/// What the classifier makes of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub kind: &'static str,
    pub category: Category,
    /// A stable id of the template: `k…` from the English template of a known kind (the
    /// same in every language), `u…` from the message with its values taken out.
    pub template: String,
    /// The message as sent: redacted.
    pub message: String,
    pub fields: EventFields,
}

#[derive(Debug)]
struct Compiled {
    kind: &'static KindSpec,
    template: Template,
    roles: &'static [Role],
    id: String,
}

/// Classifies messages against the kinds' templates.
#[derive(Debug)]
pub struct Classifier {
    compiled: Vec<Compiled>,
    by_word: HashMap<String, Vec<usize>>,
    wild: Vec<usize>,
    continuations: Vec<(Template, &'static [Role])>,
    rusage: Vec<(Template, Template)>,
    details: Vec<(&'static str, Template, &'static [Role])>,
    severities: HashMap<String, &'static str>,
    secondary: Vec<(String, &'static str)>,
    /// ` at character %d`, which stderr appends to a message with a cursor position.
    cursor: Vec<Template>,
    redaction: Redaction,
}

impl Default for Classifier {
    fn default() -> Self {
        Self::new(&English, Redaction::default())
    }
}

/// The leading word of a text: letters, digits, `_` and any non-ASCII character.
fn lead_word(text: &str) -> &str {
    let end = text
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80))
        .unwrap_or(text.len());
    &text[..end]
}

/// Every form of `tpl`: English first, then the catalog's.
fn forms(tpl: &Tpl, catalog: &dyn Translations) -> Vec<String> {
    let mut out = vec![tpl.msgid.to_owned()];
    if let Some(p) = tpl.plural {
        out.push(p.to_owned());
    }
    for f in catalog.forms(tpl.msgid, tpl.plural) {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

fn translate_all(word: &str, catalog: &dyn Translations) -> Vec<String> {
    let mut out = vec![word.to_owned()];
    out.extend(catalog.forms(word, None));
    out
}

/// The template-id hash (FNV-1a).
pub(super) fn fnv(text: &str) -> u64 {
    crate::hash::fnv1a(text.as_bytes())
}

impl Classifier {
    /// The classifier for a server writing its log in the language of `catalog`.
    pub fn new(catalog: &dyn Translations, redaction: Redaction) -> Self {
        let mut compiled = Vec::new();
        for kind in KINDS {
            for tpl in kind.templates {
                let id = super::kinds::template_id(tpl.msgid);
                // A guarded argument is one of a few (translated) words: each is compiled in
                // as a literal, so the template matches only with it.
                let guards: Vec<Option<(usize, String)>> = match tpl.guard {
                    Some((arg, words)) => words
                        .iter()
                        .flat_map(|w| translate_all(w, catalog))
                        .map(|w| Some((arg, w)))
                        .collect(),
                    None => vec![None],
                };
                let multiline = tpl.args.last() == Some(&Role::Sql);
                for form in forms(tpl, catalog) {
                    let Some(mut template) = Template::compile(&form) else {
                        continue;
                    };
                    if multiline {
                        template = template.spanning_lines();
                    }
                    for guard in &guards {
                        let template = match guard {
                            Some((arg, word)) => template.with_literal_arg(*arg, word),
                            None => template.clone(),
                        };
                        compiled.push(Compiled {
                            kind,
                            template,
                            roles: tpl.args,
                            id: id.clone(),
                        });
                    }
                }
            }
        }
        let mut by_word: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wild = Vec::new();
        for (i, c) in compiled.iter().enumerate() {
            let lead = c.template.lead();
            let word = lead_word(lead);
            // A word cut by a conversion (`foo%s`) could go on in the message: wild.
            if word.is_empty() || word.len() == lead.len() && c.template.arity() > 0 {
                wild.push(i);
            } else {
                by_word.entry(word.to_owned()).or_default().push(i);
            }
        }
        let specificity = |i: &usize| std::cmp::Reverse(compiled[*i].template.specificity());
        for list in by_word.values_mut() {
            list.sort_by_key(specificity);
        }
        wild.sort_by_key(specificity);

        let continuations = CONTINUATIONS
            .iter()
            .flat_map(|tpl| {
                forms(tpl, catalog)
                    .into_iter()
                    .filter_map(|f| Template::compile(&f))
                    .map(|t| (t, tpl.args))
            })
            .collect();
        let outer = translate_all(RUSAGE.0, catalog);
        let inner = translate_all(RUSAGE.1, catalog);
        let rusage = outer
            .iter()
            .filter_map(|o| Template::compile(o))
            .flat_map(|o| {
                inner
                    .iter()
                    .filter_map(|i| Template::compile(i))
                    .map(move |i| (o.clone(), i))
            })
            .collect();
        let details = DETAILS
            .iter()
            .flat_map(|(kind, tpl)| {
                let statement = tpl.args.last() == Some(&Role::Field(Field::Statement));
                forms(tpl, catalog)
                    .into_iter()
                    .filter_map(|f| Template::compile(&f))
                    .map(move |t| {
                        (
                            *kind,
                            if statement { t.spanning_lines() } else { t },
                            tpl.args,
                        )
                    })
            })
            .collect();
        let mut severities = HashMap::new();
        for word in SEVERITY_WORDS {
            for form in translate_all(word, catalog) {
                severities.insert(form.trim().to_owned(), *word);
            }
        }
        for n in 1..=5 {
            severities.insert(format!("DEBUG{n}"), "DEBUG");
        }
        let mut secondary = Vec::new();
        for label in SECONDARY_LABELS {
            let english = label.trim_end_matches([':', ' ']);
            for form in translate_all(label, catalog) {
                secondary.push((form.trim_end_matches([':', ' ']).to_owned(), english));
            }
        }
        let cursor = translate_all(" at character %d", catalog)
            .iter()
            .filter_map(|f| Template::compile(f))
            .collect();
        Self {
            cursor,
            compiled,
            by_word,
            wild,
            continuations,
            rusage,
            details,
            severities,
            secondary,
            redaction,
        }
    }

    /// How many templates were compiled (English and translated).
    pub fn templates(&self) -> usize {
        self.compiled.len()
    }

    /// The English severity of a (possibly translated) severity word.
    pub fn severity(&self, word: &str) -> Option<&'static str> {
        self.severities.get(word.trim()).copied()
    }

    /// The English label (`DETAIL`, `STATEMENT`, …) of a (possibly translated) label of a
    /// secondary line.
    pub fn secondary(&self, word: &str) -> Option<&'static str> {
        let word = word.trim_end_matches([':', ' ']);
        self.secondary
            .iter()
            .find(|(w, _)| w == word)
            .map(|(_, e)| *e)
    }

    /// Classifies `message` (with its `DETAIL` lines), redacting it. `None` for debug output.
    pub fn classify(
        &self,
        severity: &str,
        sqlstate: Option<&str>,
        message: &str,
        details: &[String],
    ) -> Option<Classified> {
        if severity == "DEBUG" {
            return None;
        }
        let message = self.without_cursor(message);
        let word = lead_word(message);
        let candidates = self
            .by_word
            .get(word)
            .into_iter()
            .flatten()
            .chain(self.wild.iter());
        for &i in candidates {
            let c = &self.compiled[i];
            let Some((end, spans)) = c.template.matches(message) else {
                continue;
            };
            return Some(self.known(c, message, end, &spans, details));
        }
        Some(self.unknown(severity, sqlstate, message))
    }

    /// `message` without a trailing ` at character 15` (the error's cursor position).
    fn without_cursor<'a>(&self, message: &'a str) -> &'a str {
        for t in &self.cursor {
            let lead = t.lead();
            if lead.is_empty() {
                continue;
            }
            if let Some(at) = message.rfind(lead)
                && t.matches(&message[at..])
                    .is_some_and(|(end, _)| at + end == message.len())
            {
                return &message[..at];
            }
        }
        message
    }

    fn known(
        &self,
        c: &Compiled,
        message: &str,
        end: usize,
        spans: &Spans,
        details: &[String],
    ) -> Classified {
        let mut fields = EventFields::default();
        let mut cuts: Vec<(usize, usize, String)> = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            let (Some((a, b)), Some(role)) = (span, c.roles.get(i)) else {
                continue;
            };
            let value = &message[*a..*b];
            match role {
                Role::Keep => {}
                Role::Field(f) => fields.set(*f, value, &self.redaction),
                Role::Redact(class) => {
                    if self.redaction.filters(*class) {
                        cuts.push((*a, *b, "?".to_owned()));
                    }
                }
                Role::Sql => {
                    if c.kind.name == "plan" {
                        cuts.push((*a, *b, super::plan::redact_plan(value, &self.redaction)));
                        fields.plan_query_id(value);
                    } else if self.redaction.filters(RedactClass::StatementText) {
                        cuts.push((*a, *b, redact_sql(value)));
                    }
                }
            }
        }
        // The lines after the template: autovacuum's figures are read and kept; anything
        // else there is not the template's and is not sent.
        let mut keep = message.len();
        if end < message.len() {
            if c.kind.category == Category::Vacuum {
                for line in message[end..].lines() {
                    self.continuation(line.trim_start(), &mut fields);
                }
            } else {
                keep = end;
            }
        }
        for detail in details {
            for (kind, t, roles) in &self.details {
                if *kind != c.kind.name {
                    continue;
                }
                if let Some((_, spans)) = t.matches(detail) {
                    for (span, role) in spans.iter().zip(roles.iter()) {
                        if let (Some((a, b)), Role::Field(f)) = (span, role) {
                            fields.set(*f, &detail[*a..*b], &self.redaction);
                        }
                    }
                }
            }
        }
        Classified {
            kind: c.kind.name,
            category: c.kind.category,
            template: c.id.clone(),
            message: splice(&message[..keep], cuts),
            fields,
        }
    }

    fn continuation(&self, line: &str, fields: &mut EventFields) {
        for (t, roles) in &self.continuations {
            if let Some((_, spans)) = t.matches(line) {
                for (span, role) in spans.iter().zip(roles.iter()) {
                    if let (Some((a, b)), Role::Field(f)) = (span, role) {
                        fields.set(*f, &line[*a..*b], &self.redaction);
                    }
                }
                return;
            }
        }
        for (outer, inner) in &self.rusage {
            if let Some((_, spans)) = outer.matches(line)
                && let Some(Some((a, b))) = spans.first()
                && let Some((_, inner_spans)) = inner.matches(&line[*a..*b])
            {
                let text = &line[*a..*b];
                for (span, role) in inner_spans.iter().zip(RUSAGE_ARGS) {
                    if let (Some((x, y)), Role::Field(f)) = (span, role) {
                        fields.set(*f, &text[*x..*y], &self.redaction);
                    }
                }
                return;
            }
        }
    }

    fn unknown(&self, severity: &str, sqlstate: Option<&str>, message: &str) -> Classified {
        let normalized = normalize(message);
        let template = format!("u{:012x}", fnv(&normalized) >> 16);
        let class = sqlstate.filter(|s| s.len() == 5 && !s.starts_with("00"));
        let (kind, category) = match class.and_then(|s| {
            SQLSTATE_CLASSES
                .iter()
                .find(|(c, _)| s.starts_with(c))
                .map(|(c, name)| (*name, category_of_class(c)))
        }) {
            Some(found) => found,
            None => (
                match severity {
                    "ERROR" => "other_error",
                    "FATAL" => "other_fatal",
                    "PANIC" => "other_panic",
                    "WARNING" => "other_warning",
                    _ => "other",
                },
                Category::Other,
            ),
        };
        let message = if self.redaction.filters(RedactClass::Unidentified) {
            normalized
        } else {
            message.to_owned()
        };
        Classified {
            kind,
            category,
            template,
            message,
            fields: EventFields::default(),
        }
    }
}

/// `message` with the byte ranges in `cuts` replaced.
fn splice(message: &str, mut cuts: Vec<(usize, usize, String)>) -> String {
    if cuts.is_empty() {
        return message.to_owned();
    }
    cuts.sort_by_key(|c| c.0);
    let mut out = String::with_capacity(message.len());
    let mut at = 0;
    for (a, b, with) in cuts {
        if a < at {
            continue;
        }
        out.push_str(&message[at..a]);
        out.push_str(&with);
        at = b;
    }
    out.push_str(&message[at..]);
    out
}

/// Quoted values (`"…"`, `'…'`, `»…«`, `«…»`, `“…”`, `„…“`, `「…」`) and numbers taken out of
/// a message no template identifies: what stays is its shape, the same for every
/// occurrence of the same message.
pub fn normalize(message: &str) -> String {
    const PAIRS: &[(char, char)] = &[
        ('"', '"'),
        ('\'', '\''),
        ('»', '«'),
        ('«', '»'),
        ('“', '”'),
        ('„', '“'),
        ('「', '」'),
    ];
    let mut out = String::with_capacity(message.len());
    let mut chars = message.char_indices().peekable();
    let mut prev_word = false;
    while let Some((i, ch)) = chars.next() {
        if let Some((_, close)) = PAIRS.iter().find(|(open, _)| *open == ch)
            && !(ch == '\'' && prev_word)
        {
            // Up to the closing mark (or the end of the line).
            let rest = &message[i + ch.len_utf8()..];
            let end = rest.find([*close, '\n']).unwrap_or(rest.len());
            out.push(ch);
            out.push('?');
            if rest[end..].starts_with(*close) {
                out.push(*close);
                let skip = end + close.len_utf8();
                while chars
                    .peek()
                    .is_some_and(|(j, _)| *j < i + ch.len_utf8() + skip)
                {
                    chars.next();
                }
            } else {
                while chars
                    .peek()
                    .is_some_and(|(j, _)| *j < i + ch.len_utf8() + end)
                {
                    chars.next();
                }
            }
            prev_word = false;
            continue;
        }
        if ch.is_ascii_digit() && !prev_word {
            while chars
                .peek()
                .is_some_and(|(_, c)| c.is_ascii_alphanumeric() || *c == '.' || *c == '/')
            {
                chars.next();
            }
            out.push('?');
            prev_word = false;
            continue;
        }
        prev_word = ch.is_alphanumeric() || ch == '_';
        out.push(ch);
    }
    out
}
