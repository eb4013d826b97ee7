//! Identifier files: the text (UTF-8 with or without a byte-order mark, UTF-16 with one; LF,
//! CRLF or CR line endings), one identifier per line or CSV, and what was wrong, line by line or
//! with the file as a whole.
//!
//! A sync deletes what the list holds and the file does not name, so a file is either
//! understood or refused: a file that is not text is never read line by line, a CSV whose
//! identifier column is not clear is refused, and every line that is not an identifier is
//! reported ([`ParsedList::bad_lines`]), which stops a sync with `delete_extra` (see
//! [`crate::sync`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use super::identifier::{Identifier, InvalidIdentifier};

/// How an identifier file is laid out; see [`ListFormat::read`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ListFormat {
    /// CSV when a line that is not a comment holds a comma (its column chosen as
    /// [`CsvColumn::Auto`] does), else one identifier per line.
    #[default]
    Auto,
    /// One identifier per line; a comma is part of the line.
    Lines,
    /// CSV (RFC 4180: fields in double quotes may hold commas, line breaks and `""`), the
    /// identifiers in one column.
    Csv(CsvColumn),
}

/// The column of a CSV that holds the identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CsvColumn {
    /// The one column with identifiers in it: refused when several columns hold some
    /// ([`InputError::AmbiguousColumn`]) or none does.
    #[default]
    Auto,
    /// The column with this header in the first record (compared without case and without
    /// surrounding whitespace).
    Name(String),
    /// The column at this position, the first being 1.
    Number(usize),
}

/// How a file was read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReadAs {
    /// One identifier per line.
    #[default]
    Lines,
    /// CSV, the identifiers in column `column` (the first being 1).
    Csv {
        /// The column, from 1.
        column: usize,
        /// Its header, when the first record is one.
        header: Option<String>,
    },
}

/// An identifier file, read: the identifiers in order of first appearance, and what was wrong
/// with the other lines.
///
/// A sync takes it as it is (`client.allowlist_identifiers().sync(parsed)`), so that a sync
/// with `delete_extra` refuses to run when a line was not understood. A `Vec<Identifier>`
/// converts into one without issues.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ParsedList {
    /// The identifiers, each once, in the order of their first line.
    pub identifiers: Vec<Identifier>,
    /// The lines that were skipped, with why.
    pub issues: Vec<LineIssue>,
    /// One identifier per line, or which CSV column.
    pub read_as: ReadAs,
}

impl ParsedList {
    /// The lines that were not identifiers (duplicates are understood and not counted).
    pub fn bad_lines(&self) -> impl Iterator<Item = &LineIssue> {
        self.issues
            .iter()
            .filter(|issue| !matches!(issue.problem, LineProblem::Duplicate { .. }))
    }

    /// Whether every line was understood: identifiers, duplicates, comments and blank lines.
    pub fn is_understood(&self) -> bool {
        self.bad_lines().next().is_none()
    }
}

impl From<Vec<Identifier>> for ParsedList {
    /// Identifiers made by code: every one understood.
    fn from(identifiers: Vec<Identifier>) -> Self {
        Self {
            identifiers,
            ..Self::default()
        }
    }
}

impl FromIterator<Identifier> for ParsedList {
    fn from_iter<I: IntoIterator<Item = Identifier>>(iter: I) -> Self {
        Self::from(iter.into_iter().collect::<Vec<_>>())
    }
}

/// A line of an identifier file that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineIssue {
    /// The line number, from 1 (for CSV, the line its record starts on).
    pub line: usize,
    /// What was wrong.
    pub problem: LineProblem,
}

/// What was wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineProblem {
    /// Not an identifier.
    Invalid(InvalidIdentifier),
    /// The same identifier (after normalization) as an earlier line.
    Duplicate {
        /// The line it first appeared on.
        first_line: usize,
    },
    /// A CSV record without the identifier column.
    MissingField {
        /// The column, from 1.
        column: usize,
    },
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            LineProblem::Invalid(why) => write!(f, "line {}: {why}", self.line),
            LineProblem::Duplicate { first_line } => write!(
                f,
                "line {}: duplicate of line {first_line} (kept once)",
                self.line
            ),
            LineProblem::MissingField { column } => {
                write!(f, "line {}: no column {column}", self.line)
            }
        }
    }
}

/// Why a file was refused as a whole: nothing of it was used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// Not text; at byte `offset` of the file (of the text for [`ListFormat::parse`]).
    NotText {
        /// Where, in bytes from the start.
        offset: usize,
        /// What was found there.
        reason: NotText,
    },
    /// Several columns of the CSV hold identifiers (their numbers, from 1): name one
    /// ([`CsvColumn`]).
    AmbiguousColumn {
        /// The columns, from 1.
        columns: Vec<usize>,
    },
    /// No column of the CSV holds an identifier.
    NoIdentifierColumn,
    /// No header of the first record is this name (or several are).
    ColumnNotFound {
        /// The name asked for.
        name: String,
    },
    /// A column number of 0 (columns count from 1).
    ColumnZero,
    /// The CSV reader failed at this line.
    Csv {
        /// The line, from 1.
        line: u64,
    },
}

/// What makes a file not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotText {
    /// A NUL character: a binary file, or UTF-16 without its byte-order mark.
    Nul,
    /// Bytes that are not UTF-8 (and no UTF-16 byte-order mark).
    InvalidUtf8,
    /// UTF-16 (after its byte-order mark) with an unpaired surrogate or an odd byte count.
    InvalidUtf16,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::NotText { offset, reason } => {
                let what = match reason {
                    NotText::Nul => {
                        "a NUL byte (a binary file, or UTF-16 without its byte-order mark: save it as UTF-8)"
                    }
                    NotText::InvalidUtf8 => "bytes that are not UTF-8 (save the file as UTF-8)",
                    NotText::InvalidUtf16 => "invalid UTF-16",
                };
                write!(
                    f,
                    "not a text file: {what} at byte {offset}; nothing of it was used"
                )
            }
            InputError::AmbiguousColumn { columns } => {
                let list: Vec<String> = columns.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "CSV columns {} all hold identifiers: name the one to use (--column NAME or NUMBER)",
                    list.join(", ")
                )
            }
            InputError::NoIdentifierColumn => f.write_str("no CSV column holds an identifier"),
            InputError::ColumnNotFound { name } => {
                write!(f, "no CSV column is headed {name:?} (or several are)")
            }
            InputError::ColumnZero => f.write_str("CSV columns are numbered from 1"),
            InputError::Csv { line } => write!(f, "line {line}: not readable as CSV"),
        }
    }
}

impl std::error::Error for InputError {}

impl ListFormat {
    /// Reads an identifier file from its bytes: UTF-8 (with or without a byte-order mark) or
    /// UTF-16 with a byte-order mark; LF, CRLF or CR line endings. A file with a NUL byte,
    /// bytes that are not UTF-8, or UTF-16 without a byte-order mark is refused as a whole.
    ///
    /// ```
    /// use clerk_tower::sync::{InputError, ListFormat};
    ///
    /// // Old Mac line endings, and UTF-16LE with its byte-order mark.
    /// let parsed = ListFormat::Auto.read(b"ada@example.com\r+15555550100\r")?;
    /// assert_eq!(parsed.identifiers.len(), 2);
    /// let utf16: Vec<u8> = "\u{feff}ada@example.com\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    /// assert_eq!(ListFormat::Auto.read(&utf16)?.identifiers.len(), 1);
    /// // The same without the mark is not text.
    /// assert!(matches!(ListFormat::Auto.read(&utf16[2..]), Err(InputError::NotText { .. })));
    /// # Ok::<(), InputError>(())
    /// ```
    ///
    /// # Errors
    /// [`InputError`]: the file as a whole was refused.
    pub fn read(&self, bytes: &[u8]) -> Result<ParsedList, InputError> {
        let text = decode(bytes)?;
        self.parse_checked(&text)
    }

    /// Reads an identifier file that is already text; see [`read`](Self::read).
    ///
    /// # Errors
    /// [`InputError`]: the text holds a NUL, or a CSV column is not clear.
    pub fn parse(&self, text: &str) -> Result<ParsedList, InputError> {
        if let Some(offset) = text.find('\0') {
            return Err(InputError::NotText {
                offset,
                reason: NotText::Nul,
            });
        }
        self.parse_checked(text)
    }

    fn parse_checked(&self, text: &str) -> Result<ParsedList, InputError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match self {
            ListFormat::Lines => Ok(parse_lines(text)),
            ListFormat::Csv(column) => parse_csv(text, column),
            ListFormat::Auto => {
                let csv = lines(text).any(|(_, line)| {
                    let line = line.trim();
                    !line.starts_with('#') && line.contains(',')
                });
                if csv {
                    parse_csv(text, &CsvColumn::Auto)
                } else {
                    Ok(parse_lines(text))
                }
            }
        }
    }
}

/// Reads an identifier file from its bytes, laid out as [`ListFormat::Auto`] says; see
/// [`ListFormat::read`].
///
/// # Errors
/// [`InputError`]: the file as a whole was refused.
pub fn read_list(bytes: &[u8]) -> Result<ParsedList, InputError> {
    ListFormat::Auto.read(bytes)
}

/// Reads an identifier file that is already text, laid out as [`ListFormat::Auto`] says.
///
/// Blank lines and lines starting with `#` are skipped. One identifier per line, or CSV when
/// a line holds a comma: the column that holds identifiers is used (a CSV export with names
/// in its first column works as it is), and a first record without identifiers, digits or
/// `@` is its header. A line that is not an identifier, or repeats an earlier one, is
/// reported in [`ParsedList::issues`] with its number.
///
/// ```
/// use clerk_tower::sync::{parse_list, LineProblem};
///
/// let parsed = parse_list("name,email\nAda,ada@example.com\n\n# partners\n,*@partner.example\nBob,not an id\nAda,ADA@example.com\n")?;
/// assert_eq!(parsed.identifiers.len(), 2);
/// assert_eq!(parsed.issues.len(), 2);
/// assert_eq!(parsed.issues[0].line, 6);
/// assert_eq!(parsed.issues[1].problem, LineProblem::Duplicate { first_line: 2 });
/// assert!(!parsed.is_understood()); // line 6: a sync with delete_extra refuses to run
/// # Ok::<(), clerk_tower::sync::InputError>(())
/// ```
///
/// # Errors
/// [`InputError`]: the text holds a NUL, or a CSV column is not clear.
pub fn parse_list(text: &str) -> Result<ParsedList, InputError> {
    ListFormat::Auto.parse(text)
}

/// The text of a file: UTF-8 (a byte-order mark removed) or UTF-16 with a byte-order mark.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, InputError> {
    let not_text = |offset: usize, reason: NotText| InputError::NotText { offset, reason };
    let utf16 = match bytes {
        [0xff, 0xfe, rest @ ..] => Some((rest, false)),
        [0xfe, 0xff, rest @ ..] => Some((rest, true)),
        _ => None,
    };
    if let Some((rest, big_endian)) = utf16 {
        if rest.len() % 2 != 0 {
            return Err(not_text(
                bytes.len().saturating_sub(1),
                NotText::InvalidUtf16,
            ));
        }
        let units = rest.chunks_exact(2).map(|pair| match pair {
            [a, b] if big_endian => u16::from_be_bytes([*a, *b]),
            [a, b] => u16::from_le_bytes([*a, *b]),
            _ => 0,
        });
        let mut text = String::with_capacity(rest.len() / 2);
        for (index, unit) in char::decode_utf16(units).enumerate() {
            // The offset of this character's first unit (a pair counts as two; close enough
            // for an error message, and never past the end).
            let offset = index.saturating_mul(2).saturating_add(2).min(bytes.len());
            match unit {
                Ok('\0') => return Err(not_text(offset, NotText::Nul)),
                Ok(c) => text.push(c),
                Err(_) => return Err(not_text(offset, NotText::InvalidUtf16)),
            }
        }
        return Ok(Cow::Owned(text));
    }
    if let Some(offset) = bytes.iter().position(|b| *b == 0) {
        return Err(not_text(offset, NotText::Nul));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(e) => Err(not_text(e.valid_up_to(), NotText::InvalidUtf8)),
    }
}

/// The lines of `text` with their numbers (from 1), ended by LF, CRLF or a lone CR.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = Some(text);
    let mut number = 0usize;
    std::iter::from_fn(move || {
        let current = rest?;
        if current.is_empty() {
            rest = None;
            return None;
        }
        number = number.saturating_add(1);
        match current.find(['\r', '\n']) {
            Some(end) => {
                let line = current.get(..end).unwrap_or_default();
                let after = current.get(end..).unwrap_or_default();
                let skip = if after.starts_with("\r\n") { 2 } else { 1 };
                rest = Some(after.get(skip..).unwrap_or_default());
                Some((number, line))
            }
            None => {
                rest = None;
                Some((number, current))
            }
        }
    })
}

/// Identifiers in order of first appearance, duplicates and bad lines reported.
#[derive(Default)]
struct Collector {
    parsed: ParsedList,
    first_seen: HashMap<String, usize>,
}

impl Collector {
    fn field(&mut self, line: usize, field: &str) {
        match Identifier::parse(field) {
            Ok(identifier) => {
                let key = identifier.key();
                match self.first_seen.get(&key) {
                    Some(first_line) => self.parsed.issues.push(LineIssue {
                        line,
                        problem: LineProblem::Duplicate {
                            first_line: *first_line,
                        },
                    }),
                    None => {
                        self.first_seen.insert(key, line);
                        self.parsed.identifiers.push(identifier);
                    }
                }
            }
            Err(why) => self.issue(line, LineProblem::Invalid(why)),
        }
    }

    fn issue(&mut self, line: usize, problem: LineProblem) {
        self.parsed.issues.push(LineIssue { line, problem });
    }
}

fn parse_lines(text: &str) -> ParsedList {
    let mut out = Collector::default();
    for (line, raw) in lines(text) {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let field = trimmed
            .strip_prefix('"')
            .and_then(|f| f.strip_suffix('"'))
            .unwrap_or(trimmed);
        if line == 1 && Identifier::parse(field).is_err() && is_header(field) {
            continue;
        }
        out.field(line, field);
    }
    out.parsed
}

/// A header of a one-per-line file: a word or a few (`email`, `identifier`, `E-mail
/// address`), never something that could be a mangled identifier.
fn is_header(field: &str) -> bool {
    field
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '_' || c == '-')
        && field.chars().any(char::is_alphabetic)
        && !field.chars().any(|c| c.is_ascii_digit())
}

/// A record of a CSV file: its line and its fields (trimmed).
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// The line a record starts on, from where the CSV reader started looking for it (`byte`, on
/// line `line`): past the empty lines and `#` comments it skipped.
fn record_line(text: &str, byte: u64, mut line: u64) -> u64 {
    let mut rest = usize::try_from(byte)
        .ok()
        .and_then(|b| text.get(b..))
        .unwrap_or_default();
    loop {
        let skip = if rest.starts_with("\r\n") {
            2
        } else if rest.starts_with(['\r', '\n']) {
            1
        } else if rest.starts_with('#') {
            match rest.find(['\r', '\n']) {
                Some(end) if rest.get(end..).is_some_and(|r| r.starts_with("\r\n")) => {
                    end.saturating_add(2)
                }
                Some(end) => end.saturating_add(1),
                None => return line,
            }
        } else {
            return line;
        };
        rest = rest.get(skip..).unwrap_or_default();
        line = line.saturating_add(1);
    }
}

fn parse_csv(text: &str, column: &CsvColumn) -> Result<ParsedList, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(line, csv::Position::line);
                return Err(InputError::Csv { line });
            }
        }
        let fields: Vec<String> = record.iter().map(str::to_owned).collect();
        // Blank lines, lines of separators only, and comments indented or not.
        if fields.iter().all(String::is_empty) || fields.first().is_some_and(|f| f.starts_with('#'))
        {
            continue;
        }
        // The reader's position is where it started looking for the record, before the blank
        // and comment lines it skipped: move past those.
        let line = match record.position() {
            Some(p) => record_line(text, p.byte(), p.line()),
            None => line,
        };
        let line = usize::try_from(line).unwrap_or(usize::MAX);
        records.push(Record { line, fields });
    }

    let header_like = |r: &Record| {
        r.fields.iter().all(|f| {
            Identifier::parse(f).is_err()
                && !f.contains('@')
                && !f.chars().any(|c| c.is_ascii_digit())
        })
    };
    let has_header = match column {
        CsvColumn::Name(_) => true,
        _ => records.first().is_some_and(header_like),
    };
    let (header, data) = match records.split_first() {
        Some((first, rest)) if has_header => (Some(first), rest),
        _ => (None, records.as_slice()),
    };
    let index = match column {
        CsvColumn::Number(0) => return Err(InputError::ColumnZero),
        CsvColumn::Number(n) => n.saturating_sub(1),
        CsvColumn::Name(name) => {
            let wanted = name.trim();
            let mut matching = header
                .map(|h| h.fields.as_slice())
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter(|(_, f)| f.to_lowercase() == wanted.to_lowercase());
            match (matching.next(), matching.next()) {
                (Some((i, _)), None) => i,
                _ => return Err(InputError::ColumnNotFound { name: name.clone() }),
            }
        }
        CsvColumn::Auto => {
            let mut with_identifiers: Vec<usize> = Vec::new();
            for r in data {
                for (i, f) in r.fields.iter().enumerate() {
                    if !with_identifiers.contains(&i) && Identifier::parse(f).is_ok() {
                        with_identifiers.push(i);
                    }
                }
            }
            with_identifiers.sort_unstable();
            match with_identifiers.as_slice() {
                [] if data.is_empty() => 0,
                [] => return Err(InputError::NoIdentifierColumn),
                [one] => *one,
                several => {
                    return Err(InputError::AmbiguousColumn {
                        columns: several.iter().map(|i| i.saturating_add(1)).collect(),
                    })
                }
            }
        }
    };
    let number = index.saturating_add(1);
    let mut out = Collector::default();
    for r in data {
        match r.fields.get(index) {
            Some(field) => out.field(r.line, field),
            None => out.issue(r.line, LineProblem::MissingField { column: number }),
        }
    }
    out.parsed.read_as = ReadAs::Csv {
        column: number,
        header: header.and_then(|h| h.fields.get(index)).cloned(),
    };
    Ok(out.parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(parsed: &ParsedList) -> Vec<&str> {
        parsed.identifiers.iter().map(Identifier::as_str).collect()
    }

    fn issues(parsed: &ParsedList) -> Vec<String> {
        parsed.issues.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn files_with_csv_headers_comments_duplicates_and_bad_lines() {
        let text = "\u{feff}identifier\n# comment\n\"bob@example.com\",x\n+44 20 7946 0958\n\nbob@EXAMPLE.com\n555\n0044 20 7946 0958\n";
        let parsed = parse_list(text).unwrap();
        assert_eq!(values(&parsed), ["bob@example.com", "+442079460958"]);
        assert_eq!(
            issues(&parsed),
            [
                "line 6: duplicate of line 3 (kept once)",
                "line 7: phone number without a country code (write +<country><number> or 00...)",
                "line 8: duplicate of line 4 (kept once)",
            ]
        );
        assert_eq!(parsed.bad_lines().count(), 1);
        // A header is only skipped on line 1.
        assert_eq!(parse_list("a@b.co\nemail\n").unwrap().issues.len(), 1);
    }

    #[test]
    fn line_endings_and_encodings() {
        for text in [
            "a@b.co\nc@d.co\n",
            "a@b.co\r\nc@d.co\r\n",
            "a@b.co\rc@d.co\r",
            "a@b.co\rc@d.co",
            "\u{feff}a@b.co\r\n\r\nc@d.co",
        ] {
            let parsed = ListFormat::Auto.read(text.as_bytes()).unwrap();
            assert_eq!(values(&parsed), ["a@b.co", "c@d.co"], "{text:?}");
            assert!(parsed.is_understood());
        }
        // A blank line between CRs counts: line numbers stay right.
        let parsed = parse_list("a@b.co\r\rnope\r").unwrap();
        assert_eq!(issues(&parsed)[0].split(':').next(), Some("line 3"));
        for big_endian in [false, true] {
            let mut bytes = Vec::new();
            for unit in "\u{feff}a@b.co\r\nc@d.co\n".encode_utf16() {
                bytes.extend(if big_endian {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                });
            }
            let parsed = ListFormat::Auto.read(&bytes).unwrap();
            assert_eq!(values(&parsed), ["a@b.co", "c@d.co"]);
            // Without the mark: NULs, not text.
            let err = ListFormat::Auto.read(&bytes[2..]).unwrap_err();
            assert!(
                matches!(
                    err,
                    InputError::NotText {
                        reason: NotText::Nul,
                        ..
                    }
                ),
                "{err:?}"
            );
            // An odd byte count, an unpaired surrogate.
            let mut odd = bytes.clone();
            odd.push(b'x');
            assert!(matches!(
                ListFormat::Auto.read(&odd),
                Err(InputError::NotText {
                    reason: NotText::InvalidUtf16,
                    ..
                })
            ));
            let mut lone = bytes[..2].to_vec();
            lone.extend(if big_endian {
                [0xd8, 0x00]
            } else {
                [0x00, 0xd8]
            });
            assert!(matches!(
                ListFormat::Auto.read(&lone),
                Err(InputError::NotText {
                    reason: NotText::InvalidUtf16,
                    ..
                })
            ));
        }
        assert_eq!(
            ListFormat::Auto.read(b"a@b.co\nc\0@d.co\n").unwrap_err(),
            InputError::NotText {
                offset: 8,
                reason: NotText::Nul
            }
        );
        assert_eq!(
            ListFormat::Auto.read(b"a@b.co\n\xffc@d.co\n").unwrap_err(),
            InputError::NotText {
                offset: 7,
                reason: NotText::InvalidUtf8
            }
        );
        assert!(parse_list("a@b.co\0").is_err());
        let empty = ListFormat::Auto.read(b"").unwrap();
        assert!(empty.identifiers.is_empty() && empty.is_understood());
    }

    #[test]
    fn csv_columns() {
        let text = "Name,Email,Manager\n\"Lovelace, Ada\",ada@example.com,boss@example.com\n# a comment\n  # indented\nBob,\" bob@example.com \",boss@example.com\n\n";
        assert_eq!(
            parse_list(text).unwrap_err(),
            InputError::AmbiguousColumn {
                columns: vec![2, 3]
            }
        );
        let by_name = ListFormat::Csv(CsvColumn::Name(" email ".into()))
            .parse(text)
            .unwrap();
        assert_eq!(values(&by_name), ["ada@example.com", "bob@example.com"]);
        assert_eq!(
            by_name.read_as,
            ReadAs::Csv {
                column: 2,
                header: Some("Email".into())
            }
        );
        assert!(by_name.is_understood());
        let by_number = ListFormat::Csv(CsvColumn::Number(3)).parse(text).unwrap();
        assert_eq!(values(&by_number), ["boss@example.com"]);
        assert_eq!(
            by_number.issues[0].to_string(),
            "line 5: duplicate of line 2 (kept once)"
        );
        assert_eq!(
            ListFormat::Csv(CsvColumn::Number(0))
                .parse(text)
                .unwrap_err(),
            InputError::ColumnZero
        );
        assert!(matches!(
            ListFormat::Csv(CsvColumn::Name("phone".into())).parse(text),
            Err(InputError::ColumnNotFound { .. })
        ));
        // Names in the first column, no header; a quoted field with a line break.
        let names_first = "\"Ada\nLovelace\",ada@example.com\nBob,bob@example.com\nCarol\n";
        let parsed = parse_list(names_first).unwrap();
        assert_eq!(values(&parsed), ["ada@example.com", "bob@example.com"]);
        assert_eq!(issues(&parsed), ["line 4: no column 2"]);
        // A header only; no identifier anywhere.
        let header_only = parse_list("name,email\n").unwrap();
        assert!(header_only.identifiers.is_empty() && header_only.is_understood());
        assert_eq!(
            parse_list("name,email\nAda,nobody\n").unwrap_err(),
            InputError::NoIdentifierColumn
        );
        // A first record that could be a mangled identifier is data, not a header.
        let mangled = parse_list("ada@@example.com,x\nbob@example.com,y\n").unwrap();
        assert_eq!(issues(&mangled)[0].split(':').next(), Some("line 1"));
        // Forced one-per-line: a comma is part of the line.
        let lines = ListFormat::Lines.parse("a@b.co,x\n").unwrap();
        assert_eq!(lines.bad_lines().count(), 1);
        // An empty field in the column is a bad line, not a silent skip.
        let gap = parse_list("Ada,ada@example.com\nBob,\n").unwrap();
        assert_eq!(gap.bad_lines().count(), 1);
    }
}
