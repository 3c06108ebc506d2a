//! Every kind's templates, as the message catalogs of the installed PostgreSQL 15 translate
//! them (German, French, Spanish, Japanese, …): a message printed from a translated
//! template is read back as the same kind, with its values where the English template says
//! they are. No server needed: the messages are printed here, the way `errmsg` prints them.

use pganalytics_adapters::logs::catalog::MoCatalog;
use pganalytics_domain::logs::kinds::{KINDS, Tpl};
use pganalytics_domain::logs::{Classifier, Redaction, Translations};
use std::path::Path;

/// A value for each conversion: `printf` as PostgreSQL's `errmsg` would print it.
fn render(format: &str) -> String {
    render_with(format, None)
}

/// [`render`], with one argument given (a guarded word such as `execute`).
fn render_with(format: &str, given: Option<(usize, &str)>) -> String {
    let b = format.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut next = 0usize;
    while i < b.len() {
        if b[i] != b'%' {
            let ch = format[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        i += 1;
        if b[i] == b'%' {
            out.push('%');
            i += 1;
            continue;
        }
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let mut arg = next;
        if digits > 0 && b.get(i + digits) == Some(&b'$') {
            arg = format[i..i + digits].parse::<usize>().unwrap() - 1;
            i += digits + 1;
        }
        while matches!(
            b[i],
            b'-' | b'+' | b' ' | b'#' | b'0'
                ..=b'9' | b'.' | b'l' | b'h' | b'z' | b'j' | b't' | b'L' | b'q'
        ) {
            i += 1;
        }
        let conv = b[i];
        i += 1;
        if conv == b'm' {
            out.push_str("No space left on device");
            continue;
        }
        next = arg + 1;
        let value = match conv {
            _ if given.is_some_and(|(a, _)| a == arg) => given.unwrap().1.to_owned(),
            b'd' | b'i' | b'u' => format!("{}", 40 + arg),
            b'f' | b'g' | b'e' => format!("{}.125", 40 + arg),
            b'x' | b'X' => "1A2B".to_owned(),
            b'c' => "c".to_owned(),
            _ => format!("v{arg}"),
        };
        out.push_str(&value);
    }
    out
}

fn check(lang: &str) -> (usize, Vec<String>) {
    let path = Path::new("/usr/share/locale")
        .join(lang)
        .join("LC_MESSAGES/postgres-15.mo");
    assert!(
        path.is_file(),
        "{} is missing.\nFix: apt-get install postgresql-15 (its catalogs come with it)",
        path.display()
    );
    let catalog = MoCatalog::open(&path).unwrap();
    let classifier = Classifier::new(&catalog, Redaction::default());
    let mut checked = 0;
    let mut wrong = Vec::new();
    for kind in KINDS {
        for tpl in kind.templates {
            let Tpl {
                msgid,
                plural,
                guard,
                ..
            } = *tpl;
            // A guarded argument prints one of its (translated) words.
            let word = guard.map(|(arg, words)| {
                let w = catalog
                    .forms(words[0], None)
                    .pop()
                    .unwrap_or_else(|| words[0].to_owned());
                (arg, w)
            });
            for translated in catalog.forms(msgid, plural) {
                if translated.is_empty() {
                    continue;
                }
                let given = word.as_ref().map(|(a, w)| (*a, w.as_str()));
                let message = render_with(translated.trim_end_matches('\n'), given);
                let got = classifier.classify("LOG", None, &message, &[]).unwrap();
                checked += 1;
                if got.kind == kind.name {
                    continue;
                }
                // The translators gave two messages the same text (French has one text for
                // the walsender's and the walreceiver's timeouts): either kind is right.
                let other = KINDS.iter().find(|k| k.name == got.kind);
                let same_text = other.is_some_and(|k| {
                    k.templates.iter().any(|t| {
                        catalog
                            .forms(t.msgid, t.plural)
                            .iter()
                            .any(|f| render(f.trim_end_matches('\n')) == message)
                    })
                });
                if !same_text {
                    wrong.push(format!("{lang} {}: {message:?} → {}", kind.name, got.kind));
                }
            }
        }
    }
    (checked, wrong)
}

#[test]
fn every_translated_template_is_read_back_as_its_kind() {
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for lang in ["de", "fr", "es", "ja", "ru", "it", "sv", "ko", "zh_CN"] {
        let (checked, w) = check(lang);
        report.push(format!("{lang}: {checked}"));
        wrong.extend(w);
    }
    eprintln!("translated templates checked: {}", report.join(", "));
    assert!(
        wrong.is_empty(),
        "{} not read back:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_translated_value_lands_where_the_english_template_puts_it() {
    for lang in ["de", "fr", "es", "ja"] {
        let path = Path::new("/usr/share/locale")
            .join(lang)
            .join("LC_MESSAGES/postgres-15.mo");
        let catalog = MoCatalog::open(&path).unwrap();
        let classifier = Classifier::new(&catalog, Redaction::default());
        let tpl = catalog
            .forms(
                "process %d still waiting for %s on %s after %ld.%03d ms",
                None,
            )
            .pop()
            .unwrap();
        let message = render(&tpl);
        let got = classifier.classify("LOG", None, &message, &[]).unwrap();
        assert_eq!(got.kind, "lock_waiting", "{lang}: {message}");
        assert_eq!(got.fields.target_pid, Some(40.0), "{lang}: {message}");
        assert_eq!(
            got.fields.lock_mode.as_deref(),
            Some("v1"),
            "{lang}: {message}"
        );
        assert_eq!(
            got.fields.lock_object.as_deref(),
            Some("v2"),
            "{lang}: {message}"
        );
        let tpl = catalog
            .forms("invalid input syntax for type %s: \"%s\"", None)
            .pop()
            .unwrap();
        let message = render(&tpl);
        let got = classifier.classify("ERROR", None, &message, &[]).unwrap();
        assert_eq!(got.kind, "invalid_input_syntax", "{lang}: {message}");
        assert!(
            !got.message.contains("v1") && got.message.contains("v0"),
            "{lang}: {}",
            got.message
        );
    }
}
