//! Strings that match the small regular expressions of Clerk's spec (`^ak_[0-9A-Fa-f]{32}$`,
//! `^(user|org|mch)_\w{27}$`, `^oauth_[a-z]+$`, ...), for generated answers.
//!
//! Supported: literals, `^` and `$`, groups `( )` and `(?: )` with `|` (the first alternative
//! is used), classes `[...]` with ranges and negation, `.`, `\w`, `\d`, `\s`, `\S`, `\W`,
//! `\D`, escaped literals, and the quantifiers `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}` (the
//! smallest count, at least one for `?` and `*` when that is allowed). Anything else gives
//! `None`, and the caller falls back to a plain sample.

use super::engine::SplitMix64;

/// The most repetitions one quantifier may ask for.
const MAX_REPEAT: u32 = 256;

/// A string matching `pattern`, or `None` when the pattern uses syntax this sampler does not
/// know. Deterministic for a given `rng` state.
pub(crate) fn sample(pattern: &str, rng: &mut SplitMix64) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut parser = Parser {
        chars: &chars,
        pos: 0,
        rng,
        out: String::new(),
        depth: 0,
    };
    parser.alternatives()?;
    (parser.pos == chars.len()).then_some(parser.out)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    rng: &'a mut SplitMix64,
    out: String,
    depth: usize,
}

/// One class of characters: ranges, possibly negated.
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != self.negated
    }
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

    /// `a|b|c` up to `)` or the end: writes the first alternative, skips the others.
    fn alternatives(&mut self) -> Option<()> {
        self.depth += 1;
        if self.depth > 32 {
            return None;
        }
        self.sequence(true)?;
        while self.peek() == Some('|') {
            self.pos += 1;
            self.sequence(false)?;
        }
        self.depth -= 1;
        Some(())
    }

    /// Items up to `|`, `)` or the end; written to the output when `emit`.
    fn sequence(&mut self, emit: bool) -> Option<()> {
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let mark = self.out.len();
            let start = self.pos;
            self.atom()?;
            let (min, max) = self.quantifier()?;
            // Repeat what the atom produced: re-parse it (it may hold random picks).
            let end = self.pos;
            let count = match max {
                Some(0) => 0,
                _ if min == 0 => 1,
                _ => min,
            };
            self.out.truncate(mark);
            for _ in 0..count {
                self.pos = start;
                self.atom()?;
            }
            self.pos = end;
            if !emit {
                self.out.truncate(mark);
            }
        }
        Some(())
    }

    /// One atom, written to the output.
    fn atom(&mut self) -> Option<()> {
        match self.bump()? {
            '^' | '$' => Some(()),
            '(' => {
                if self.peek() == Some('?') {
                    self.pos += 1;
                    if self.bump()? != ':' {
                        return None;
                    }
                }
                self.alternatives()?;
                (self.bump()? == ')').then_some(())
            }
            '[' => {
                let class = self.class()?;
                let c = self.pick(&class)?;
                self.out.push(c);
                Some(())
            }
            '.' => {
                self.out.push('a');
                Some(())
            }
            '\\' => {
                let escaped = self.bump()?;
                match escape_class(escaped) {
                    Some(class) => {
                        let c = self.pick(&class)?;
                        self.out.push(c);
                    }
                    None if escaped.is_ascii_alphanumeric() => return None,
                    None => self.out.push(escaped),
                }
                Some(())
            }
            '*' | '+' | '?' | '{' | ')' | '|' => None,
            c => {
                self.out.push(c);
                Some(())
            }
        }
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
                        None => class.ranges.push((escaped, escaped)),
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

    /// A printable ASCII character of the class, chosen with the rng.
    fn pick(&mut self, class: &Class) -> Option<char> {
        let mut candidates: Vec<char> = ('!'..='~').filter(|c| class.matches(*c)).collect();
        // Letters and digits read best in ids (`\w` also takes `_`): keep to them when the
        // class has any.
        if candidates.iter().any(char::is_ascii_alphanumeric) {
            candidates.retain(char::is_ascii_alphanumeric);
        }
        if candidates.is_empty() {
            return None;
        }
        let i = usize::try_from(self.rng.next_u64() % candidates.len() as u64).ok()?;
        candidates.get(i).copied()
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

/// The class of `\w`, `\d`, `\s` and their negations.
fn escape_class(c: char) -> Option<Class> {
    let (ranges, negated) = match c {
        'w' => (vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], false),
        'W' => (vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], true),
        'd' => (vec![('0', '9')], false),
        'D' => (vec![('0', '9')], true),
        's' => (vec![(' ', ' '), ('\t', '\r')], false),
        'S' => (vec![(' ', ' '), ('\t', '\r')], true),
        _ => return None,
    };
    Some(Class { ranges, negated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_of_the_spec_patterns() {
        let mut rng = SplitMix64::new(1);
        let mut s = |p: &str| sample(p, &mut rng);
        let ak = s("^ak_[0-9A-Fa-f]{32}$").unwrap();
        assert!(ak.starts_with("ak_") && ak.len() == 35, "{ak}");
        assert!(ak[3..].bytes().all(|b| b.is_ascii_hexdigit()), "{ak}");
        let subject = s(r"^(user|org|mch)_\w{27}$").unwrap();
        assert!(
            subject.starts_with("user_") && subject.len() == 32,
            "{subject}"
        );
        assert_eq!(s("^oauth_[a-z]+$").unwrap().len(), "oauth_".len() + 1);
        let oauth = s("^from_oauth_(?:(?:token_)|(?:custom_))?[a-z]+$").unwrap();
        assert!(oauth.starts_with("from_oauth_token_"), "{oauth}");
        let country = s("^[A-Z]{2}$").unwrap();
        assert!(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()));
        let key = s("^[^_][A-Za-z0-9_-]*$").unwrap();
        assert!(!key.starts_with('_') && !key.is_empty(), "{key}");
        let trimmed = s(r"^(\S(.*\S)?)?$").unwrap();
        assert!(
            !trimmed.is_empty() && !trimmed.starts_with(' '),
            "{trimmed:?}"
        );
        for bad in [
            "(", "[", "a{", "a{2,1}", "a{99999}", "\\", "[z-a]", "\\p{L}", "*", "(?=a)", "[\\W]",
        ] {
            assert_eq!(s(bad), None, "{bad}");
        }
    }
}
