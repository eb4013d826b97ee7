//! Sample strings for a schema's `pattern` (the simplest string the regular expression matches)
//! and `format`: the generator's sample requests (`tests/it/generated`) and the contract tests'
//! schema instances (`tests/it/instances.rs`, which includes this file with `#[path]`).
//! Deterministic and dependency-free, so both use the same one; the mock has its own, seeded,
//! for varied answers.
//! No crate does this without a regex engine's weight (`rand_regex` needs `regex-syntax` and
//! `rand`).

/// A string of the OpenAPI `format`, for the formats Clerk's spec uses; `None` for others.
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

/// The simplest string a regular expression matches, for the patterns Clerk's spec uses:
/// anchors, literals, escapes (`\w`, `\d`, `\s`, escaped punctuation), classes, groups with
/// alternatives (the first is taken) and the quantifiers `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`.
/// `None` for anything else (lookarounds, backreferences, negated classes).
pub fn pattern_sample(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let (s, end) = sequence(&chars, 0)?;
    (end == chars.len()).then_some(s)
}

/// A sequence up to `)` or `|` (not consumed) or the end.
fn sequence(chars: &[char], mut i: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    while let Some(&c) = chars.get(i) {
        let (atom, next) = match c {
            ')' | '|' => break,
            '^' | '$' => {
                i += 1;
                continue;
            }
            '(' => {
                let mut j = i + 1;
                if chars.get(j) == Some(&'?') {
                    // Only non-capturing groups.
                    if chars.get(j + 1) != Some(&':') {
                        return None;
                    }
                    j += 2;
                }
                let (first, mut k) = sequence(chars, j)?;
                // Skip the other alternatives.
                while chars.get(k) == Some(&'|') {
                    let (_, after) = sequence(chars, k + 1)?;
                    k = after;
                }
                if chars.get(k) != Some(&')') {
                    return None;
                }
                (first, k + 1)
            }
            '[' => {
                let close = chars.get(i + 1..)?.iter().position(|&c| c == ']')? + i + 1;
                let class = chars.get(i + 1..close)?;
                let first = match class {
                    ['^', ..] | [] => return None,
                    ['\\', e, ..] => escape(*e)?,
                    [c, ..] => *c,
                };
                (first.to_string(), close + 1)
            }
            '\\' => (escape(*chars.get(i + 1)?)?.to_string(), i + 2),
            '.' => ("a".to_owned(), i + 1),
            '*' | '+' | '?' | '{' => return None,
            c => (c.to_string(), i + 1),
        };
        let (count, after) = quantifier(chars, next)?;
        out.push_str(&atom.repeat(count));
        i = after;
    }
    // An alternative at the top level: the first is enough.
    if chars.get(i) == Some(&'|') {
        let mut k = i;
        while chars.get(k) == Some(&'|') {
            let (_, after) = sequence(chars, k + 1)?;
            k = after;
        }
        return Some((out, k));
    }
    Some((out, i))
}

fn escape(c: char) -> Option<char> {
    match c {
        'w' => Some('a'),
        'd' => Some('1'),
        's' => Some(' '),
        c if c.is_ascii_punctuation() => Some(c),
        _ => None,
    }
}

/// How many times the atom before `i` repeats (the least the quantifier allows, at least one
/// for `+`), and the index after the quantifier.
fn quantifier(chars: &[char], i: usize) -> Option<(usize, usize)> {
    match chars.get(i) {
        Some('?' | '*') => Some((0, i + 1)),
        Some('+') => Some((1, i + 1)),
        Some('{') => {
            let close = chars.get(i + 1..)?.iter().position(|&c| c == '}')? + i + 1;
            let inside: String = chars.get(i + 1..close)?.iter().collect();
            let min = inside.split(',').next()?.trim().parse().ok()?;
            Some((min, close + 1))
        }
        _ => Some((1, i)),
    }
}

#[cfg(test)]
mod tests {
    use super::pattern_sample;

    #[test]
    fn patterns_of_the_spec_get_a_matching_sample() {
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
        assert_eq!(pattern_sample("^[^a]$"), None);
        assert_eq!(pattern_sample("^(?=a)$"), None);
        assert_eq!(pattern_sample("^a{2$"), None);
    }
}
