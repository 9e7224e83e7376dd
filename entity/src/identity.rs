//! Pure rules about identities: email normalisation, names, passwords.

use thiserror::Error;

/// Why an identity field was refused. Messages are safe to show to clients.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    #[error("email address is not valid")]
    InvalidEmail,
    #[error("display name must be 1 to 200 characters without control characters")]
    InvalidName,
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters long")]
    PasswordTooShort,
    #[error("password must be at most {MAX_PASSWORD_BYTES} bytes long")]
    PasswordTooLong,
    #[error("email domain {0:?} is not valid")]
    InvalidDomain(String),
}

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Normalises an email address for storage and lookup: trimmed, lower-case.
/// Uniqueness of the normalised form is the case-insensitive uniqueness of emails.
pub fn normalize_email(raw: &str) -> Result<String, IdentityError> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@').ok_or(IdentityError::InvalidEmail)?;
    let valid = !local.is_empty()
        && local.len() <= 64
        && email.len() <= 320
        && !domain.contains('@')
        && is_valid_domain(domain)
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(IdentityError::InvalidEmail)
    }
}

/// The domain part of a normalised email address.
pub fn email_domain(normalized_email: &str) -> &str {
    normalized_email
        .rsplit_once('@')
        .map_or("", |(_, domain)| domain)
}

fn is_valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Normalises a partner organisation's email domain (`Example.COM` → `example.com`).
pub fn normalize_domain(raw: &str) -> Result<String, IdentityError> {
    let domain = raw.trim().trim_start_matches('@').to_lowercase();
    if is_valid_domain(&domain) {
        Ok(domain)
    } else {
        Err(IdentityError::InvalidDomain(raw.to_owned()))
    }
}

/// Validates and trims a display name.
pub fn normalize_name(raw: &str) -> Result<String, IdentityError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        Err(IdentityError::InvalidName)
    } else {
        Ok(name.to_owned())
    }
}

/// Checks a new password against the policy (length only: long passphrases
/// beat composition rules).
pub fn check_password_policy(password: &str) -> Result<(), IdentityError> {
    if password.len() > MAX_PASSWORD_BYTES {
        Err(IdentityError::PasswordTooLong)
    } else if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(IdentityError::PasswordTooShort)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  Alice.Smith@Example.COM "),
            Ok("alice.smith@example.com".into())
        );
        assert_eq!(email_domain("alice@example.com"), "example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a@b@example.com",
            "al ice@example.com",
            "alice@exa_mple.com",
            "alice@-example.com",
        ] {
            assert_eq!(
                normalize_email(bad),
                Err(IdentityError::InvalidEmail),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn domains_normalise() {
        assert_eq!(
            normalize_domain("@Partner.Example "),
            Ok("partner.example".into())
        );
        assert!(normalize_domain("not a domain").is_err());
    }

    #[test]
    fn password_policy_counts_characters() {
        assert_eq!(
            check_password_policy("short"),
            Err(IdentityError::PasswordTooShort)
        );
        assert_eq!(check_password_policy("correct horse battery"), Ok(()));
        assert_eq!(
            check_password_policy("ééééééééééé"),
            Err(IdentityError::PasswordTooShort)
        );
        assert_eq!(
            check_password_policy(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(IdentityError::PasswordTooLong)
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(normalize_name("  Ada "), Ok("Ada".into()));
        assert!(normalize_name("   ").is_err());
        assert!(normalize_name("a\u{0007}b").is_err());
        assert!(normalize_name(&"n".repeat(201)).is_err());
    }
}
