//! PostgreSQL's message templates (the `printf` formats of `errmsg`, as its gettext
//! catalogs list them) compiled into patterns that read a logged message back: which
//! template it came from and where each argument's value is.
//!
//! A translated template may reorder its arguments (`%2$s … %1$s`); spans are returned in
//! the English order, so a kind's argument roles apply to every language.

/// What a conversion prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// `%d`, `%u`, `%ld`, `%lld`, `%zu`, … (an optional sign and digits).
    Int,
    /// `%f`, `%.3f`, `%g`, and `%ld.%03d` (PostgreSQL's way of printing seconds).
    Float,
    /// `%X`, `%x`, `%08X`.
    Hex,
    /// `%c`: one character.
    Char,
    /// `%s`, and `%m` (the C library's error text, which takes no argument).
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// A conversion and the argument it prints (English order), `None` for `%m`.
    Arg(Conv, Option<usize>),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    /// How many arguments the English template has.
    args: usize,
    /// The template ends with a line break: more lines (other templates) may follow.
    open_ended: bool,
    /// A last `%s` may span lines (statement texts, plans); otherwise it ends its line.
    multiline: bool,
}

/// Where each argument's value is in a matched message (byte ranges, English order).
pub type Spans = Vec<Option<(usize, usize)>>;

impl Template {
    /// Compiles a `printf` format. `None` when it has a conversion we do not read
    /// (`%p`, `%n`, `*` widths), which no message template uses.
    pub fn compile(format: &str) -> Option<Self> {
        let b = format.as_bytes();
        let mut pieces: Vec<Piece> = Vec::new();
        let mut literal = String::new();
        let mut next_arg = 0;
        let mut max_arg = 0;
        let mut i = 0;
        let mut lit_start = 0;
        while i < b.len() {
            if b[i] != b'%' {
                i += 1;
                continue;
            }
            literal.push_str(&format[lit_start..i]);
            i += 1;
            if b.get(i) == Some(&b'%') {
                literal.push('%');
                i += 1;
                lit_start = i;
                continue;
            }
            // %n$ positional argument.
            let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let mut position = None;
            if digits > 0 && b.get(i + digits) == Some(&b'$') {
                position = std::str::from_utf8(&b[i..i + digits])
                    .ok()?
                    .parse::<usize>()
                    .ok()?
                    .checked_sub(1);
                i += digits + 1;
            }
            // Flags, width, precision, length.
            while i < b.len() && matches!(b[i], b'-' | b'+' | b' ' | b'#' | b'0'..=b'9' | b'.') {
                i += 1;
            }
            while i < b.len() && matches!(b[i], b'l' | b'h' | b'z' | b'j' | b't' | b'L' | b'q') {
                i += 1;
            }
            let conv = match b.get(i)? {
                b'd' | b'i' | b'u' => Conv::Int,
                b'f' | b'g' | b'e' | b'F' | b'G' | b'E' => Conv::Float,
                b'x' | b'X' | b'o' => Conv::Hex,
                b'c' => Conv::Char,
                b's' => Conv::Text,
                b'm' => {
                    i += 1;
                    lit_start = i;
                    flush(&mut pieces, &mut literal);
                    pieces.push(Piece::Arg(Conv::Text, None));
                    continue;
                }
                _ => return None,
            };
            i += 1;
            lit_start = i;
            let index = position.unwrap_or(next_arg);
            next_arg = index + 1;
            max_arg = max_arg.max(index + 1);
            flush(&mut pieces, &mut literal);
            pieces.push(Piece::Arg(conv, Some(index)));
        }
        literal.push_str(&format[lit_start..]);
        let open_ended = literal.ends_with('\n');
        while literal.ends_with('\n') {
            literal.pop();
        }
        flush(&mut pieces, &mut literal);
        merge_decimals(&mut pieces);
        Some(Self {
            pieces,
            args: max_arg,
            open_ended,
            multiline: false,
        })
    }

    /// The template with argument `index` printed as `word`: a literal in its place (the
    /// argument's span stays empty).
    #[must_use]
    pub fn with_literal_arg(&self, index: usize, word: &str) -> Self {
        let mut pieces: Vec<Piece> = Vec::with_capacity(self.pieces.len());
        for p in &self.pieces {
            let p = match p {
                Piece::Arg(_, Some(i)) if *i == index => Piece::Literal(word.to_owned()),
                other => other.clone(),
            };
            match (pieces.last_mut(), p) {
                (Some(Piece::Literal(prev)), Piece::Literal(next)) => prev.push_str(&next),
                (_, p) => pieces.push(p),
            }
        }
        Self {
            pieces,
            ..self.clone()
        }
    }

    /// Lets a last `%s` take the following lines too (a statement's text).
    #[must_use]
    pub fn spanning_lines(mut self) -> Self {
        self.multiline = true;
        self
    }

    /// The literal text before the first conversion (what the classifier indexes by).
    pub fn lead(&self) -> &str {
        match self.pieces.first() {
            Some(Piece::Literal(l)) => l,
            _ => "",
        }
    }

    /// How many bytes of literal text the template has: the more, the more specific.
    pub fn specificity(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(l) => l.len(),
                Piece::Arg(..) => 0,
            })
            .sum()
    }

    /// How many arguments the template prints.
    pub fn arity(&self) -> usize {
        self.args
    }

    /// Matches `text` from its start. The whole text must be consumed, or the match must
    /// end at a line break (more lines follow). Returns the end of the match and the spans.
    pub fn matches(&self, text: &str) -> Option<(usize, Spans)> {
        let mut spans = vec![None; self.args];
        let end = self.walk(0, text, 0, &mut spans)?;
        Some((end, spans))
    }

    fn walk(&self, piece: usize, text: &str, at: usize, spans: &mut Spans) -> Option<usize> {
        let Some(p) = self.pieces.get(piece) else {
            let rest = &text[at..];
            return (rest.is_empty() || rest.starts_with('\n') || self.open_ended).then_some(at);
        };
        match p {
            Piece::Literal(l) => {
                if text[at..].starts_with(l.as_str()) {
                    self.walk(piece + 1, text, at + l.len(), spans)
                } else {
                    None
                }
            }
            Piece::Arg(conv, index) => {
                let mut record = |spans: &mut Spans, end: usize| {
                    if let Some(i) = index
                        && let Some(slot) = spans.get_mut(*i)
                    {
                        *slot = Some((at, end));
                    }
                };
                if *conv == Conv::Text {
                    return self.walk_text(piece, text, at, spans, &mut record);
                }
                let end = at + scan(*conv, &text.as_bytes()[at..])?;
                record(spans, end);
                self.walk(piece + 1, text, end, spans)
            }
        }
    }

    /// `%s`: as short as lets the rest match (the literal after it, tried at each of its
    /// occurrences; the end of the text when it is last).
    fn walk_text(
        &self,
        piece: usize,
        text: &str,
        at: usize,
        spans: &mut Spans,
        record: &mut impl FnMut(&mut Spans, usize),
    ) -> Option<usize> {
        match self.pieces.get(piece + 1) {
            None => {
                // Last: the rest of the line, or of the text for a statement.
                let end = if self.multiline {
                    text.len()
                } else {
                    text[at..].find('\n').map_or(text.len(), |i| at + i)
                };
                record(spans, end);
                Some(end)
            }
            Some(Piece::Literal(next)) => {
                let mut from = at;
                while let Some(found) = text[from..].find(next.as_str()) {
                    let end = from + found;
                    record(spans, end);
                    if let Some(done) = self.walk(piece + 1, text, end, spans) {
                        return Some(done);
                    }
                    // The next occurrence may overlap this one.
                    from = end + next.chars().next().map_or(1, char::len_utf8);
                    if from > text.len() {
                        break;
                    }
                }
                None
            }
            Some(Piece::Arg(..)) => {
                // Two conversions in a row (`%s%s`): try each end, shortest first.
                let mut end = at;
                loop {
                    record(spans, end);
                    if let Some(done) = self.walk(piece + 1, text, end, spans) {
                        return Some(done);
                    }
                    end += text[end..].chars().next()?.len_utf8();
                }
            }
        }
    }
}

fn flush(pieces: &mut Vec<Piece>, literal: &mut String) {
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal)));
    }
}

/// `%ld` `.` `%03d` (or `,` in some languages) → one decimal number (the first argument's span covers both).
fn merge_decimals(pieces: &mut Vec<Piece>) {
    let mut i = 0;
    while i + 2 < pieces.len() {
        let decimal = matches!(
            (&pieces[i], &pieces[i + 1], &pieces[i + 2]),
            (Piece::Arg(Conv::Int, _), Piece::Literal(dot), Piece::Arg(Conv::Int, _)) if dot == "." || dot == ","
        );
        if decimal {
            if let Piece::Arg(conv, _) = &mut pieces[i] {
                *conv = Conv::Float;
            }
            pieces.drain(i + 1..i + 3);
        }
        i += 1;
    }
}

/// The length of a value of `conv` at the start of `b`; `None` if there is none.
fn scan(conv: Conv, b: &[u8]) -> Option<usize> {
    let sign = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let len = match conv {
        Conv::Int => sign + b[sign..].iter().take_while(|c| c.is_ascii_digit()).count(),
        Conv::Float => {
            let mut n = sign + b[sign..].iter().take_while(|c| c.is_ascii_digit()).count();
            // A decimal point, or the comma of a translated `%ld,%03d`.
            if matches!(b.get(n), Some(b'.' | b',')) && b.get(n + 1).is_some_and(u8::is_ascii_digit)
            {
                n += 1 + b[n + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            }
            // An exponent (`%g`): 1e+06.
            if matches!(b.get(n), Some(b'e' | b'E')) && matches!(b.get(n + 1), Some(b'+' | b'-')) {
                n += 2 + b[n + 2..].iter().take_while(|c| c.is_ascii_digit()).count();
            }
            n
        }
        Conv::Hex => b.iter().take_while(|c| c.is_ascii_hexdigit()).count(),
        Conv::Char => std::str::from_utf8(&b[..b.len().min(4)])
            .map_or_else(|e| e.valid_up_to(), |s| s.len())
            .min(b.first().map_or(0, |c| utf8_len(*c))),
        Conv::Text => b.len(),
    };
    (len > sign || (conv == Conv::Char && len > 0)).then_some(len)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(t: &Template, text: &'a str) -> Option<Vec<&'a str>> {
        let (_, spans) = t.matches(text)?;
        Some(
            spans
                .into_iter()
                .map(|s| s.map_or("", |(a, b)| &text[a..b]))
                .collect(),
        )
    }

    #[test]
    fn conversions_read_their_values_back() {
        let t =
            Template::compile("process %d still waiting for %s on %s after %ld.%03d ms").unwrap();
        assert_eq!(
            values(
                &t,
                "process 42 still waiting for ShareLock on transaction 7 after 1000.123 ms"
            ),
            Some(vec!["42", "ShareLock", "transaction 7", "1000.123", ""])
        );
        assert_eq!(values(&t, "process 42 still waiting"), None);
        let t = Template::compile("relation \"%s\" does not exist").unwrap();
        assert_eq!(
            values(&t, "relation \"a\"\"b\" does not exist"),
            Some(vec!["a\"\"b"])
        );
        assert!(values(&t, "relation \"a\" does not exist, skipping").is_none());
        let t = Template::compile("redo starts at %X/%X").unwrap();
        assert_eq!(
            values(&t, "redo starts at 0/1A2B3C"),
            Some(vec!["0", "1A2B3C"])
        );
        let t = Template::compile("checkpoints are occurring too frequently (%d second apart)")
            .unwrap();
        assert!(
            t.matches("checkpoints are occurring too frequently (3 second apart)")
                .is_some()
        );
        let t = Template::compile("could not receive data from client: %m").unwrap();
        assert_eq!(t.arity(), 0);
        assert!(
            t.matches("could not receive data from client: Connection reset by peer")
                .is_some()
        );
    }

    #[test]
    fn positional_arguments_come_back_in_english_order() {
        // A translation that swaps its arguments.
        let t = Template::compile("Wert »%2$s« für Typ %1$s ungültig").unwrap();
        assert_eq!(
            values(&t, "Wert »5x« für Typ integer ungültig"),
            Some(vec!["integer", "5x"])
        );
    }

    #[test]
    fn a_template_ending_a_line_lets_more_lines_follow() {
        let t =
            Template::compile("automatic vacuum of table \"%s.%s.%s\": index scans: %d\n").unwrap();
        let text = "automatic vacuum of table \"shop.public.t\": index scans: 0\npages: 0 removed";
        let (end, _) = t.matches(text).unwrap();
        assert_eq!(&text[end..], "\npages: 0 removed");
        assert_eq!(values(&t, text).unwrap()[..3], ["shop", "public", "t"]);
    }
}
