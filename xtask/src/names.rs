//! Rust names from the spec's names.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Keywords (strict and reserved) that cannot be field or method names as they are.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Words as Rust spells them, before the case conversion: `OAuth` is one word (`Oauth`, so
/// `get_oauth_access_token`, not `get_o_auth_access_token`), and an acronym's plural is one
/// word (`URLs` → `Urls`, `IDs` → `Ids`, so `ListRedirectUrls`, not `ListRedirectUrLs`).
fn words(name: &str) -> String {
    let name = name.replace("OAuth", "Oauth");
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_uppercase() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_uppercase() {
            i += 1;
        }
        let run = &chars[start..i];
        let plural = run.len() >= 2
            && chars.get(i) == Some(&'s')
            && chars.get(i + 1).is_none_or(|c| !c.is_ascii_lowercase());
        if plural {
            out.push(run[0]);
            out.extend(run[1..].iter().map(char::to_ascii_lowercase));
            out.push('s');
            i += 1;
        } else {
            out.extend(run);
        }
    }
    out
}

/// A type name: `GetJWKS` → `GetJwks`, `JWKS.rsa.PublicKey` → `JwksRsaPublicKey`,
/// `verification_otp` → `VerificationOtp`, `CommercePlan-2` → `CommercePlan2`,
/// `GetOAuthAccessToken` → `GetOauthAccessToken`, `ListRedirectURLs` → `ListRedirectUrls`.
pub fn type_name(name: &str) -> String {
    let cleaned: String = words(name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let out = cleaned.to_upper_camel_case();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("N{out}")
    } else {
        out
    }
}

/// A field, method or module name: `statementID` → `statement_id`, `type` → `type_`,
/// `getOAuthAccessToken` → `get_oauth_access_token`.
pub fn snake(name: &str) -> String {
    let cleaned: String = words(name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let out = cleaned.to_snake_case();
    if KEYWORDS.contains(&out.as_str()) {
        format!("{out}_")
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{out}")
    } else {
        out
    }
}

/// A Cargo feature name from a tag: lower case words joined by `_`, everything that is not a
/// letter or a digit a separator: `Allow-list / Block-list` → `allow_list_block_list`,
/// `OAuth Applications` → `oauth_applications`, `M2M Tokens` → `m2m_tokens`.
pub fn feature(tag: &str) -> String {
    let mut out = String::new();
    for word in tag
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    out
}

/// An enum variant name for a wire value: `email_address` → `EmailAddress`, `RSA` → `Rsa`,
/// `""` → `Empty`, `+created_at` → `PlusCreatedAt`.
pub fn variant(value: &str) -> String {
    if value.is_empty() {
        return "Empty".to_owned();
    }
    let mut spelled = String::new();
    for c in value.chars() {
        match c {
            '+' => spelled.push_str("_plus_"),
            '-' if spelled.is_empty() => spelled.push_str("_minus_"),
            '*' => spelled.push_str("_any_"),
            c if c.is_ascii_alphanumeric() => spelled.push(c),
            _ => spelled.push('_'),
        }
    }
    type_name(&spelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(type_name("GetJWKS"), "GetJwks");
        assert_eq!(
            type_name("ListAllowlistIdentifiers"),
            "ListAllowlistIdentifiers"
        );
        assert_eq!(type_name("JWKS.rsa.PublicKey"), "JwksRsaPublicKey");
        assert_eq!(type_name("verification_otp"), "VerificationOtp");
        assert_eq!(type_name("CommercePlan-2"), "CommercePlan2");
        assert_eq!(type_name("createSession"), "CreateSession");
        assert_eq!(snake("statementID"), "statement_id");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("allowlistIdentifiers"), "allowlist_identifiers");
        assert_eq!(snake("getJWKS"), "get_jwks");
        assert_eq!(feature("Allow-list / Block-list"), "allow_list_block_list");
        assert_eq!(feature("OAuth Applications"), "oauth_applications");
        assert_eq!(feature("Email & SMS Templates"), "email_sms_templates");
        assert_eq!(variant(""), "Empty");
        assert_eq!(variant("RSA"), "Rsa");
        assert_eq!(variant("x5t#S256"), "X5tS256");
        assert_eq!(variant("-created_at"), "MinusCreatedAt");
    }

    /// `OAuth` and an acronym's plural are one word each, in type and snake names alike.
    #[test]
    fn one_word_acronyms() {
        assert_eq!(snake("getOAuthAccessToken"), "get_oauth_access_token");
        assert_eq!(
            snake("updateOAuthApplicationSettings"),
            "update_oauth_application_settings"
        );
        assert_eq!(type_name("GetOAuthAccessToken"), "GetOauthAccessToken");
        assert_eq!(
            type_name("OAuthApplication"),
            type_name("oauth_application")
        );
        assert_eq!(type_name("oauthApplications"), "OauthApplications");
        assert_eq!(type_name("ListRedirectURLs"), "ListRedirectUrls");
        assert_eq!(snake("redirectURLs"), "redirect_urls");
        assert_eq!(type_name("userIDs"), "UserIds");
        assert_eq!(type_name("URLsPage"), "UrlsPage");
        assert_eq!(type_name("URLSearch"), "UrlSearch");
        assert_eq!(snake("JWKS"), "jwks");
        assert_eq!(type_name("M2MTokens"), "M2mTokens");
    }
}
