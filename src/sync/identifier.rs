//! Identifiers as a sync compares them: normalized, classified, with a comparison key.

use std::fmt;
use std::str::FromStr;

/// The longest identifier accepted, in bytes (RFC 5321's longest e-mail address path).
pub const MAX_IDENTIFIER_BYTES: usize = 320;

/// What kind of identifier an [`Identifier`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IdentifierKind {
    /// An e-mail address: `ada@example.com`.
    EmailAddress,
    /// Every address of an e-mail domain, in Clerk's wildcard form: `*@example.com`.
    EmailDomain,
    /// A phone number in E.164 form: `+15555550100`.
    PhoneNumber,
    /// A web3 wallet: `0x` and 40 hexadecimal digits.
    Web3Wallet,
}

impl IdentifierKind {
    /// A short name: `email`, `domain`, `phone`, `wallet`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::EmailAddress => "email",
            IdentifierKind::EmailDomain => "domain",
            IdentifierKind::PhoneNumber => "phone",
            IdentifierKind::Web3Wallet => "wallet",
        }
    }

    /// Whether Clerk can send an invitation to this kind (`notify`): e-mail addresses and
    /// phone numbers only.
    pub fn can_notify(self) -> bool {
        matches!(
            self,
            IdentifierKind::EmailAddress | IdentifierKind::PhoneNumber
        )
    }
}

/// An allow-list or block-list identifier, normalized.
///
/// The rules (and their limits):
///
/// - surrounding whitespace is removed;
/// - **e-mail addresses** (`local@domain`, a dot in the domain, no spaces) are lowercased as a
///   whole: Clerk compares them without case. `*@domain` is an **e-mail domain** (every
///   address of it), lowercased too. No further checks: Clerk has the last word;
/// - **phone numbers**: spaces, dashes, dots and parentheses are removed, a leading `00`
///   becomes `+`, and the result must be `+` and 8 to 15 digits (E.164). A number without a
///   country code (no `+` or `00`) is refused rather than guessed: `(555) 555-0100` is not
///   E.164, `+1 (555) 555-0100` is. This is not a numbering-plan check: `+99999999` passes;
/// - **web3 wallets** (`0x` and 40 hexadecimal digits) are kept as written (a mixed-case
///   address carries an EIP-55 checksum), and compared without case.
///
/// Two identifiers are the same when their [`key`](Self::key)s are equal.
///
/// ```
/// use clerk_tower::sync::{Identifier, IdentifierKind};
///
/// let email: Identifier = " Ada@Example.COM ".parse()?;
/// assert_eq!(email.as_str(), "ada@example.com");
/// let phone: Identifier = "0044 (20) 7946-0958".parse()?;
/// assert_eq!((phone.as_str(), phone.kind()), ("+442079460958", IdentifierKind::PhoneNumber));
/// let domain: Identifier = "*@Partner.example".parse()?;
/// assert_eq!(domain.kind(), IdentifierKind::EmailDomain);
/// assert!("555-0100".parse::<Identifier>().is_err()); // no country code
/// # Ok::<(), clerk_tower::sync::InvalidIdentifier>(())
/// ```
#[derive(Debug, Clone)]
pub struct Identifier {
    kind: IdentifierKind,
    value: String,
}

impl Identifier {
    /// Normalizes and classifies `input`; see the type's docs for the rules.
    ///
    /// # Errors
    /// [`InvalidIdentifier`] saying why (never repeating the input).
    pub fn parse(input: &str) -> Result<Self, InvalidIdentifier> {
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidIdentifier(InvalidReason::Empty));
        }
        if s.len() > MAX_IDENTIFIER_BYTES {
            return Err(InvalidIdentifier(InvalidReason::TooLong));
        }
        if let Some(hex) = s.strip_prefix("0x") {
            return if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(Self::new(IdentifierKind::Web3Wallet, s.to_owned()))
            } else {
                Err(InvalidIdentifier(InvalidReason::Wallet))
            };
        }
        if let Some((local, domain)) = s.split_once('@') {
            if !valid_domain(domain) {
                return Err(InvalidIdentifier(InvalidReason::Email));
            }
            if local == "*" {
                return Ok(Self::new(IdentifierKind::EmailDomain, s.to_lowercase()));
            }
            let local_ok = !local.is_empty()
                && local.len() <= 64
                && !local.chars().any(|c| c.is_whitespace() || c.is_control());
            return if local_ok {
                Ok(Self::new(IdentifierKind::EmailAddress, s.to_lowercase()))
            } else {
                Err(InvalidIdentifier(InvalidReason::Email))
            };
        }
        let phone_chars = |c: char| c.is_ascii_digit() || " -().+\u{a0}".contains(c);
        if s.chars().all(phone_chars) && s.chars().any(|c| c.is_ascii_digit()) {
            return phone(s).map(|value| Self::new(IdentifierKind::PhoneNumber, value));
        }
        if s.contains('.') && valid_domain(s) {
            return Err(InvalidIdentifier(InvalidReason::BareDomain));
        }
        Err(InvalidIdentifier(InvalidReason::Unrecognized))
    }

    fn new(kind: IdentifierKind, value: String) -> Self {
        Self { kind, value }
    }

    /// The normalized identifier, as it is sent to Clerk.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// What kind of identifier it is.
    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }

    /// The comparison key: the normalized value, lowercased for wallets.
    pub fn key(&self) -> String {
        match self.kind {
            IdentifierKind::Web3Wallet => self.value.to_ascii_lowercase(),
            _ => self.value.clone(),
        }
    }

    /// The comparison key of an identifier as Clerk lists it: its [`key`](Self::key) when it
    /// parses, else the trimmed, lowercased text (an identifier of a kind this crate does not
    /// know still compares with itself).
    pub fn key_of(listed: &str) -> String {
        match Identifier::parse(listed) {
            Ok(identifier) => identifier.key(),
            Err(_) => listed.trim().to_lowercase(),
        }
    }
}

impl PartialEq for Identifier {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Identifier {}

impl std::hash::Hash for Identifier {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl FromStr for Identifier {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Identifier::parse(s)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

fn valid_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// `+` and 8 to 15 digits, from a number written with separators and `+` or `00`.
fn phone(s: &str) -> Result<String, InvalidIdentifier> {
    let compact: String = s.chars().filter(|c| !" -().\u{a0}".contains(*c)).collect();
    let digits = if let Some(rest) = compact.strip_prefix('+') {
        rest
    } else if let Some(rest) = compact.strip_prefix("00") {
        rest
    } else {
        return Err(InvalidIdentifier(InvalidReason::PhoneWithoutCountryCode));
    };
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidIdentifier(InvalidReason::PhoneDigits));
    }
    Ok(format!("+{digits}"))
}

/// Why a text is not an identifier. Its messages never repeat the text (it is personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidIdentifier(InvalidReason);

impl InvalidIdentifier {
    /// Why.
    pub fn reason(&self) -> InvalidReason {
        self.0
    }
}

/// The reasons an [`InvalidIdentifier`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidReason {
    /// Nothing but whitespace.
    Empty,
    /// Longer than 320 bytes.
    TooLong,
    /// Has an `@` but is not `local@domain.tld` or `*@domain.tld`.
    Email,
    /// Starts with `0x` but is not followed by 40 hexadecimal digits.
    Wallet,
    /// A phone number without `+` or `00` and a country code.
    PhoneWithoutCountryCode,
    /// A phone number with fewer than 8 or more than 15 digits.
    PhoneDigits,
    /// A bare domain: an e-mail domain is written `*@example.com`.
    BareDomain,
    /// Neither an e-mail address, an e-mail domain, a phone number nor a wallet.
    Unrecognized,
}

impl fmt::Display for InvalidIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            InvalidReason::Empty => "empty identifier",
            InvalidReason::TooLong => "longer than 320 bytes",
            InvalidReason::Email => "not a valid e-mail address or *@domain",
            InvalidReason::Wallet => "not a web3 wallet (0x and 40 hexadecimal digits)",
            InvalidReason::PhoneWithoutCountryCode => {
                "phone number without a country code (write +<country><number> or 00...)"
            }
            InvalidReason::PhoneDigits => "phone number without 8 to 15 digits (E.164)",
            InvalidReason::BareDomain => "a bare domain: write an e-mail domain as *@example.com",
            InvalidReason::Unrecognized => {
                "neither an e-mail address, *@domain, E.164 phone number nor web3 wallet"
            }
        })
    }
}

impl std::error::Error for InvalidIdentifier {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, IdentifierKind) {
        let id = Identifier::parse(s).unwrap();
        (id.as_str().to_owned(), id.kind())
    }

    fn why(s: &str) -> InvalidReason {
        Identifier::parse(s).unwrap_err().reason()
    }

    #[test]
    fn normalization_rules() {
        use IdentifierKind::*;
        assert_eq!(
            ok(" Ada@Example.com\t"),
            ("ada@example.com".into(), EmailAddress)
        );
        assert_eq!(
            ok("*@Partner.CO.uk"),
            ("*@partner.co.uk".into(), EmailDomain)
        );
        assert_eq!(
            ok("+1 (555) 555-0100"),
            ("+15555550100".into(), PhoneNumber)
        );
        assert_eq!(
            ok("0033.1.23.45.67.89"),
            ("+33123456789".into(), PhoneNumber)
        );
        assert_eq!(ok("+4915112345678"), ("+4915112345678".into(), PhoneNumber));
        let wallet = "0x52908400098527886E0F7030069857D2E4169EE7";
        assert_eq!(ok(wallet), (wallet.into(), Web3Wallet));
        assert_eq!(
            Identifier::parse(wallet).unwrap(),
            Identifier::parse(&wallet.to_lowercase()).unwrap()
        );
        assert_eq!(why(""), InvalidReason::Empty);
        assert_eq!(why("   "), InvalidReason::Empty);
        assert_eq!(
            why("(555) 555-0100"),
            InvalidReason::PhoneWithoutCountryCode
        );
        assert_eq!(why("+1234567"), InvalidReason::PhoneDigits);
        assert_eq!(why("+1234567890123456"), InvalidReason::PhoneDigits);
        assert_eq!(why("+1 555 +0100"), InvalidReason::PhoneDigits);
        assert_eq!(why("0x1234"), InvalidReason::Wallet);
        assert_eq!(why("ada@localhost"), InvalidReason::Email);
        assert_eq!(why("a b@example.com"), InvalidReason::Email);
        assert_eq!(why("@example.com"), InvalidReason::Email);
        assert_eq!(why("example.com"), InvalidReason::BareDomain);
        assert_eq!(why("hello"), InvalidReason::Unrecognized);
        assert_eq!(why(&"a".repeat(321)), InvalidReason::TooLong);
        assert_eq!(Identifier::key_of(" Odd Value "), "odd value");
        let err = Identifier::parse("secret person@localhost").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
