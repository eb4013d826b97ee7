//! Samples of string schemas: a value of each OpenAPI `format` the spec uses, and strings that
//! match its `pattern`s.
//!
//! A pattern is parsed once into a small [`Regex`] (literals, `^` and `$`, groups `( )` and
//! `(?: )` with `|`, classes `[...]` with ranges and negation, `.`, the escapes `\w \d \s` and
//! their negations, escaped punctuation, and the quantifiers `?`, `*`, `+`, `{n}`, `{n,}`,
//! `{n,m}`), which then gives the simplest string it matches ([`Regex::simplest`]: what the
//! generator's sample requests use), or strings drawn from a seed ([`Regex::sample`]). Anything
//! else (lookarounds, backreferences, Unicode classes) is refused, and callers fall back to a
//! plain sample. No crate does this without a regex engine's weight (`rand_regex` needs
//! `regex-syntax` and `rand`), and the spec's patterns are all this simple.

use crate::rng::SplitMix64;

/// The most repetitions one quantifier may ask for.
const MAX_REPEAT: u32 = 256;
/// How deep groups may nest.
const MAX_GROUP_DEPTH: usize = 32;

/// A value of the OpenAPI `format`, for the string formats the spec uses; `None` for others.
pub fn format_sample(format: &str) -> Option<&'static str> {
    Some(match format {
        "date-time" => "2026-05-12T10:20:30Z",
        "date" => "2026-05-12",
        "email" => "sample@example.com",
        "uri" | "url" => "https://example.com/sample",
        "uuid" => "123e4567-e89b-12d3-a456-426614174000",
        "byte" => "c2FtcGxl",
        "hostname" => "example.com",
        "ipv4" => "192.0.2.1",
        _ => return None,
    })
}

/// A value of the OpenAPI `format` drawn from `rng`; `None` for formats without a sample.
pub fn random_format(format: &str, rng: &mut SplitMix64) -> Option<String> {
    let word = |rng: &mut SplitMix64, len: u64| -> String {
        (0..1 + rng.below(len))
            .map(|_| char::from(b'a' + rng.below(26) as u8))
            .collect()
    };
    Some(match format {
        "date-time" | "date" => {
            let (y, mo, d) = (
                rng.in_range(1970, 2099),
                rng.in_range(1, 12),
                rng.in_range(1, 28),
            );
            if format == "date" {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                let (h, mi, s) = (rng.below(24), rng.below(60), rng.below(60));
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
            }
        }
        "email" => format!("{}@{}.example.com", word(rng, 12), word(rng, 8)),
        "uri" | "url" => format!("https://{}.example.com/{}", word(rng, 8), word(rng, 12)),
        "uuid" => {
            let (a, b) = (rng.next_u64(), rng.next_u64());
            format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                b >> 52,
                b & 0xffff_ffff_ffff
            )
        }
        "byte" => {
            // Base64 of 0..=12 random letters: every 3 bytes are 4 characters, no padding
            // needed when the length is a multiple of 3.
            const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            (0..4 * rng.below(5))
                .map(|_| char::from(B64[rng.below(64) as usize]))
                .collect()
        }
        "hostname" => format!("{}.example.com", word(rng, 12)),
        "ipv4" => format!(
            "{}.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(256)
        ),
        _ => return None,
    })
}

/// The simplest string `pattern` matches (see [`Regex::simplest`]); `None` when the pattern
/// uses syntax the parser refuses or that has no simplest form.
pub fn pattern_sample(pattern: &str) -> Option<String> {
    Regex::parse(pattern)?.simplest()
}

/// A parsed pattern: alternatives of sequences of quantified atoms.
#[derive(Debug, Clone, PartialEq)]
pub struct Regex {
    alternatives: Vec<Vec<Item>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Item {
    atom: Atom,
    min: u32,
    max: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Literal(char),
    /// `\w`, `\d`, `\s` and their negations, outside a class.
    Escape(char),
    Class(Class),
    /// `.`: any character but a line break.
    Any,
    Group(Regex),
}

/// Ranges of characters, possibly negated.
#[derive(Debug, Clone, PartialEq)]
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != self.negated
    }

    /// The printable ASCII characters of the class.
    fn printable(&self) -> Vec<char> {
        ('!'..='~')
            .chain([' '])
            .filter(|c| self.matches(*c))
            .collect()
    }
}

/// The class of `\w`, `\d`, `\s` and their negations.
fn escape_class(c: char) -> Option<Class> {
    let word = vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')];
    let space = vec![(' ', ' '), ('\t', '\r')];
    let (ranges, negated) = match c {
        'w' => (word, false),
        'W' => (word, true),
        'd' => (vec![('0', '9')], false),
        'D' => (vec![('0', '9')], true),
        's' => (space, false),
        'S' => (space, true),
        _ => return None,
    };
    Some(Class { ranges, negated })
}

/// How [`Regex::sample`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    /// Realistic values: the first alternative, one repetition of an optional atom, letters
    /// and digits where the class has them (ids read like ids).
    Plain,
    /// Anything the pattern allows: any alternative, any count up to a few past the least,
    /// any printable character of a class.
    Any,
}

impl Regex {
    /// Parses `pattern`; `None` for syntax outside the supported subset.
    pub fn parse(pattern: &str) -> Option<Regex> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
        };
        let regex = parser.alternatives(0)?;
        (parser.pos == chars.len()).then_some(regex)
    }

    /// The simplest string the pattern matches: the first alternative, each atom as few times
    /// as its quantifier allows (none for `?` and `*`), the first character of a class, `a`
    /// for `.` and `\w`, `1` for `\d`, a space for `\s`. `None` when that needs a negated
    /// class or escape.
    pub fn simplest(&self) -> Option<String> {
        let mut out = String::new();
        for item in self.alternatives.first()? {
            let one = match &item.atom {
                Atom::Literal(c) => c.to_string(),
                Atom::Escape('w') => "a".to_owned(),
                Atom::Escape('d') => "1".to_owned(),
                Atom::Escape('s') => " ".to_owned(),
                Atom::Escape(_) => return None,
                Atom::Class(class) if class.negated => return None,
                Atom::Class(class) => class.ranges.first()?.0.to_string(),
                Atom::Any => "a".to_owned(),
                Atom::Group(group) => group.simplest()?,
            };
            out.push_str(&one.repeat(usize::try_from(item.min).ok()?));
        }
        Some(out)
    }

    /// A string the pattern matches, drawn from `rng`.
    pub fn sample(&self, rng: &mut SplitMix64, draw: Draw) -> Option<String> {
        let mut out = String::new();
        self.write(rng, draw, &mut out)?;
        Some(out)
    }

    fn write(&self, rng: &mut SplitMix64, draw: Draw, out: &mut String) -> Option<()> {
        let branch = match draw {
            Draw::Plain => self.alternatives.first()?,
            Draw::Any => rng.pick(&self.alternatives)?,
        };
        for item in branch {
            let count = match (draw, item.max) {
                (_, Some(0)) => 0,
                (Draw::Plain, _) => item.min.max(1),
                (Draw::Any, max) => {
                    let top = max.unwrap_or(u32::MAX).min(item.min.saturating_add(4));
                    let span = u64::from(top.saturating_sub(item.min)) + 1;
                    item.min + u32::try_from(rng.below(span)).ok()?
                }
            };
            for _ in 0..count {
                match &item.atom {
                    Atom::Literal(c) => out.push(*c),
                    Atom::Escape(c) => out.push(pick(&escape_class(*c)?, rng, draw)?),
                    Atom::Class(class) => out.push(pick(class, rng, draw)?),
                    Atom::Any => out.push(match draw {
                        Draw::Plain => 'a',
                        Draw::Any => pick(
                            &Class {
                                ranges: vec![],
                                negated: true,
                            },
                            rng,
                            draw,
                        )?,
                    }),
                    Atom::Group(group) => group.write(rng, draw, out)?,
                }
            }
        }
        Some(())
    }
}

/// A printable ASCII character of the class; letters and digits first when drawing plainly.
fn pick(class: &Class, rng: &mut SplitMix64, draw: Draw) -> Option<char> {
    let mut candidates = class.printable();
    if draw == Draw::Plain && candidates.iter().any(char::is_ascii_alphanumeric) {
        candidates.retain(char::is_ascii_alphanumeric);
    }
    rng.pick(&candidates).copied()
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// `a|b|c` up to `)` or the end.
    fn alternatives(&mut self, depth: usize) -> Option<Regex> {
        if depth > MAX_GROUP_DEPTH {
            return None;
        }
        let mut alternatives = vec![self.sequence(depth)?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alternatives.push(self.sequence(depth)?);
        }
        Some(Regex { alternatives })
    }

    fn sequence(&mut self, depth: usize) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            self.pos += 1;
            let atom = match c {
                '^' | '$' => continue,
                '(' => {
                    if self.peek() == Some('?') {
                        self.pos += 1;
                        if self.bump()? != ':' {
                            return None;
                        }
                    }
                    let group = self.alternatives(depth + 1)?;
                    if self.bump()? != ')' {
                        return None;
                    }
                    Atom::Group(group)
                }
                '[' => Atom::Class(self.class()?),
                '.' => Atom::Any,
                '\\' => {
                    let escaped = self.bump()?;
                    if escape_class(escaped).is_some() {
                        Atom::Escape(escaped)
                    } else if escaped.is_ascii_punctuation() {
                        Atom::Literal(escaped)
                    } else {
                        return None;
                    }
                }
                '*' | '+' | '?' | '{' | '}' | ']' => return None,
                c => Atom::Literal(c),
            };
            let (min, max) = self.quantifier()?;
            items.push(Item { atom, min, max });
        }
        Some(items)
    }

    /// `[...]` after its `[`.
    fn class(&mut self) -> Option<Class> {
        let mut class = Class {
            ranges: Vec::new(),
            negated: false,
        };
        if self.peek() == Some('^') {
            self.pos += 1;
            class.negated = true;
        }
        let mut first = true;
        loop {
            let c = self.bump()?;
            match c {
                ']' if !first => return Some(class),
                '\\' => {
                    let escaped = self.bump()?;
                    match escape_class(escaped) {
                        Some(inner) if !inner.negated => class.ranges.extend(inner.ranges),
                        Some(_) => return None,
                        None if escaped.is_ascii_punctuation() => {
                            class.ranges.push((escaped, escaped))
                        }
                        None => return None,
                    }
                }
                lo => {
                    if self.peek() == Some('-') && self.chars.get(self.pos + 1) != Some(&']') {
                        self.pos += 1;
                        let hi = self.bump()?;
                        if hi < lo {
                            return None;
                        }
                        class.ranges.push((lo, hi));
                    } else {
                        class.ranges.push((lo, lo));
                    }
                }
            }
            first = false;
        }
    }

    /// A quantifier after an atom, as `(min, max)`; `(1, Some(1))` when there is none.
    fn quantifier(&mut self) -> Option<(u32, Option<u32>)> {
        let q = match self.peek() {
            Some('?') => (0, Some(1)),
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('{') => {
                self.pos += 1;
                let min = self.number()?;
                let max = match self.bump()? {
                    '}' => return Some((min, Some(min))),
                    ',' if self.peek() == Some('}') => None,
                    ',' => Some(self.number()?),
                    _ => return None,
                };
                if self.bump()? != '}' || max.is_some_and(|m| m < min) {
                    return None;
                }
                return Some((min, max));
            }
            _ => return Some((1, Some(1))),
        };
        self.pos += 1;
        Some(q)
    }

    fn number(&mut self) -> Option<u32> {
        let mut n: u32 = 0;
        let mut digits = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            self.pos += 1;
            digits += 1;
            n = n.checked_mul(10)?.checked_add(d)?;
        }
        (digits > 0 && n <= MAX_REPEAT).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplest_samples_of_the_spec_patterns() {
        assert_eq!(
            pattern_sample("^org_\\w{27}$").as_deref(),
            Some("org_aaaaaaaaaaaaaaaaaaaaaaaaaaa")
        );
        assert_eq!(
            pattern_sample("^(user|org|mch|scim)_\\w{2}$").as_deref(),
            Some("user_aa")
        );
        assert_eq!(
            pattern_sample("^aplt_[0-9A-Fa-f]{3}$").as_deref(),
            Some("aplt_000")
        );
        assert_eq!(pattern_sample("^[A-Z]{2}$").as_deref(), Some("AA"));
        assert_eq!(pattern_sample("^a+b?c*\\.d{1,3}$").as_deref(), Some("a.d"));
        assert_eq!(pattern_sample("^(?:x|y)z$").as_deref(), Some("xz"));
        assert_eq!(pattern_sample("^\\d$").as_deref(), Some("1"));
        assert_eq!(pattern_sample("^[^a]$"), None);
        assert_eq!(pattern_sample("^(\\S(.*\\S)?)?$"), None);
        assert_eq!(pattern_sample("^(?=a)$"), None);
        assert_eq!(pattern_sample("^a{2$"), None);
    }

    #[test]
    fn drawn_samples_match() {
        let mut rng = SplitMix64::new(1);
        let mut plain = |p: &str| Regex::parse(p).and_then(|r| r.sample(&mut rng, Draw::Plain));
        let ak = plain("^ak_[0-9A-Fa-f]{32}$").unwrap();
        assert!(ak.starts_with("ak_") && ak.len() == 35, "{ak}");
        assert!(ak[3..].bytes().all(|b| b.is_ascii_hexdigit()), "{ak}");
        let subject = plain(r"^(user|org|mch)_\w{27}$").unwrap();
        assert!(
            subject.starts_with("user_") && subject.len() == 32,
            "{subject}"
        );
        assert_eq!(plain("^oauth_[a-z]+$").unwrap().len(), "oauth_".len() + 1);
        let oauth = plain("^from_oauth_(?:(?:token_)|(?:custom_))?[a-z]+$").unwrap();
        assert!(oauth.starts_with("from_oauth_token_"), "{oauth}");
        let key = plain("^[^_][A-Za-z0-9_-]*$").unwrap();
        assert!(!key.starts_with('_') && !key.is_empty(), "{key}");
        let trimmed = plain(r"^(\S(.*\S)?)?$").unwrap();
        assert!(
            !trimmed.is_empty() && !trimmed.starts_with(' '),
            "{trimmed:?}"
        );
        for bad in [
            "(", "[", "a{", "a{2,1}", "a{99999}", "\\", "[z-a]", "\\p{L}", "*", "(?=a)", "[\\W]",
        ] {
            assert_eq!(Regex::parse(bad), None, "{bad}");
        }
        let mut seen = std::collections::BTreeSet::new();
        let regex = Regex::parse(r"^(user|org|mch)_\w{2,5}$").unwrap();
        for _ in 0..200 {
            let s = regex.sample(&mut rng, Draw::Any).unwrap();
            let (prefix, rest) = s.split_once('_').unwrap();
            assert!(["user", "org", "mch"].contains(&prefix), "{s}");
            assert!((2..=5).contains(&rest.len()), "{s}");
            seen.insert(prefix.to_owned());
        }
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn random_formats_have_their_shape() {
        let mut rng = SplitMix64::new(9);
        for _ in 0..100 {
            let dt = random_format("date-time", &mut rng).unwrap();
            assert_eq!(dt.len(), 20, "{dt}");
            let uuid = random_format("uuid", &mut rng).unwrap();
            assert_eq!(uuid.len(), 36, "{uuid}");
            assert!(random_format("email", &mut rng).unwrap().contains('@'));
            assert_eq!(random_format("byte", &mut rng).unwrap().len() % 4, 0);
        }
        assert!(random_format("int64", &mut rng).is_none());
    }
}
