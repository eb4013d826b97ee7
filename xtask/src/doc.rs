//! The spec's Markdown as rustdoc: links that rustdoc can resolve, nothing it would warn
//! about, code blocks that are not doctests, and lines wrapped like hand-written docs.

/// Where relative links of the spec (`/docs/...`) point.
const SITE: &str = "https://clerk.com";

/// The spec's Markdown made safe for rustdoc, line by line: `[`/`]` that are not links
/// escaped, bare URLs in angle brackets, relative links made absolute, HTML-like `<` escaped,
/// fenced code without a language marked `text` (so it is not a doctest). Apply it once, to
/// text from the spec only: the generator's own sentences hold real intra-doc links.
pub fn md(text: &str) -> String {
    let mut out = Vec::new();
    let mut in_fence = false;
    for raw in text.replace("\r\n", "\n").trim().lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            if !in_fence && trimmed == "```" {
                out.push("```text".to_owned());
            } else {
                out.push(trimmed.to_owned());
            }
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.push(line.to_owned());
            continue;
        }
        let lead = &line[..line.len() - trimmed.len()];
        out.push(format!("{lead}{}", inline(trimmed)));
    }
    out.join("\n")
}

/// Doc comment lines (without the `///`) for rustdoc Markdown: list continuation lines
/// indented under their item, paragraphs wrapped at `width` columns, code blocks as they are.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    // The indentation of list item continuation lines, while in a list item.
    let mut item_indent: Option<usize> = None;
    for raw in text.trim().lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            out.push(trimmed.to_owned());
            in_fence = !in_fence;
            item_indent = None;
            continue;
        }
        if in_fence {
            out.push(line.to_owned());
            continue;
        }
        if trimmed.is_empty() {
            out.push(String::new());
            item_indent = None;
            continue;
        }
        let lead = line.len() - trimmed.len();
        match list_marker(trimmed) {
            Some(m) => {
                // A list item: keep its own indentation (nested lists), hang the rest.
                let prefix = " ".repeat(lead.min(8));
                let hang = prefix.len() + m;
                wrap_into(&mut out, trimmed, &prefix, &" ".repeat(hang), width);
                item_indent = Some(hang);
            }
            None => {
                let indent = match item_indent {
                    // A lazy continuation of a list item: indent it under the item.
                    Some(hang) => " ".repeat(hang),
                    None if trimmed.starts_with('#') || trimmed.starts_with('|') => {
                        out.push(trimmed.to_owned());
                        continue;
                    }
                    // Never indent 4 spaces or more outside a list: that is a code block.
                    None => String::new(),
                };
                wrap_into(&mut out, trimmed, &indent, &indent, width);
            }
        }
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// The width of a list marker (`- `, `* `, `1. `) at the start of `line`, if it is one.
fn list_marker(line: &str) -> Option<usize> {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
        return Some(2);
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && line[digits..].starts_with(". ") {
        return Some(digits + 2);
    }
    None
}

/// Wraps `text` at word boundaries: the first line after `first`, the others after `rest`.
fn wrap_into(out: &mut Vec<String>, text: &str, first: &str, rest: &str, width: usize) {
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !empty && line.len() + 1 + word.len() > width {
            out.push(std::mem::take(&mut line));
            line.push_str(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty {
        out.push(line);
    }
}

/// Converts the inline Markdown of one line (outside code spans).
fn inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    while !rest.is_empty() {
        // Code spans are copied as they are.
        if let Some(after) = rest.strip_prefix('`') {
            if let Some(end) = after.find('`') {
                out.push('`');
                out.push_str(&after[..=end]);
                rest = &after[end + 1..];
                continue;
            }
        }
        if rest.starts_with('[') {
            if let Some((text, url, len)) = link(rest) {
                out.push('[');
                out.push_str(&escape_brackets(text));
                out.push_str("](");
                if url.starts_with('/') {
                    out.push_str(SITE);
                }
                out.push_str(url);
                out.push(')');
                rest = &rest[len..];
                continue;
            }
        }
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ')' || c == '>' || c == '"')
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':']);
            out.push('<');
            out.push_str(url);
            out.push('>');
            rest = &rest[url.len()..];
            continue;
        }
        let mut chars = rest.chars();
        let Some(c) = chars.next() else { break };
        match c {
            '[' => out.push_str("\\["),
            ']' => out.push_str("\\]"),
            '<' if chars
                .clone()
                .next()
                .is_some_and(|n| n.is_ascii_alphabetic() || n == '/') =>
            {
                out.push_str("&lt;")
            }
            c => out.push(c),
        }
        rest = chars.as_str();
    }
    out
}

/// A Markdown link at the start of `s` (`[text](url)`, or `[text] (url)` as the spec writes
/// one of them): its text, its URL, and its length in `s`.
fn link(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find(']')?;
    let text = &s[1..close];
    if text.contains('[') {
        return None;
    }
    let after = &s[close + 1..];
    let spaced = after.strip_prefix(' ').unwrap_or(after);
    let url_part = spaced.strip_prefix('(')?;
    let end = url_part.find(')')?;
    let url = &url_part[..end];
    if url.contains(' ') || url.is_empty() {
        return None;
    }
    let len = close + 1 + (after.len() - spaced.len()) + 1 + end + 1;
    Some((text, url, len))
}

fn escape_brackets(s: &str) -> String {
    s.replace('[', "\\[").replace(']', "\\]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_urls_and_brackets() {
        assert_eq!(
            inline("see [Docs](https://clerk.com/x) and https://clerk.com/docs."),
            "see [Docs](https://clerk.com/x) and <https://clerk.com/docs>."
        );
        assert_eq!(
            inline("the user's [active organization] (https://clerk.com/o)"),
            "the user's [active organization](https://clerk.com/o)"
        );
        assert_eq!(
            inline("a [custom flow](/docs/custom) here"),
            "a [custom flow](https://clerk.com/docs/custom) here"
        );
        assert_eq!(
            inline("an array [a, b] and `[x](y)`"),
            "an array \\[a, b\\] and `[x](y)`"
        );
        assert_eq!(
            inline("e.g. `https://x.com` or <b>"),
            "e.g. `https://x.com` or &lt;b>"
        );
        assert_eq!(
            inline("[`bcrypt`](https://en.wikipedia.org/wiki/Bcrypt), x"),
            "[`bcrypt`](https://en.wikipedia.org/wiki/Bcrypt), x"
        );
    }

    #[test]
    fn blocks() {
        let lines = wrap(
            &md("Intro.\n\n- one\ncontinued\n- two\n\n```\ncode\n```"),
            100,
        );
        assert_eq!(
            lines,
            [
                "Intro.",
                "",
                "- one",
                "  continued",
                "- two",
                "",
                "```text",
                "code",
                "```"
            ]
        );
        let wrapped = wrap(&"word ".repeat(30), 40);
        assert!(wrapped.iter().all(|l| l.len() <= 40), "{wrapped:?}");
    }
}
