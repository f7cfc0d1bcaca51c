//! Secrets: API token generation and hashing, argon2id password hashing.
//!
//! No secret is ever compared byte by byte with attacker-chosen input: tokens are found by the
//! SHA-256 of what was sent (learning how much of a hash matched reveals nothing about the
//! token), and argon2 verifies passwords in constant time.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::Digest as _;

/// Visible part of every token, so that leaked tokens are easy to recognize in code and logs.
pub const TOKEN_MARKER: &str = "tap_";
/// Characters after the marker that are stored and listed to tell tokens apart.
const PREFIX_LENGTH: usize = 8;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// Bytes as lowercase hex, two digits each.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A new token: the marker and 40 hex characters (160 random bits), DRF's token length.
pub fn new_token() -> String {
    let bytes: [u8; 20] = random_bytes();
    format!("{TOKEN_MARKER}{}", hex(&bytes))
}

/// Whether `text` has the form of a token this server issues (the marker and 40 lowercase hex
/// characters); nothing else can be one, so nothing else is looked up.
pub fn could_be_a_token(text: &str) -> bool {
    text.strip_prefix(TOKEN_MARKER).is_some_and(|random| {
        random.len() == 40
            && random
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    })
}

/// The stored, listed prefix of a token.
pub fn token_prefix(token: &str) -> String {
    token
        .chars()
        .take(TOKEN_MARKER.len() + PREFIX_LENGTH)
        .collect()
}

/// The stored form of a token. Tokens carry 160 random bits, so a fast hash is enough: there is
/// nothing to brute-force, and verifying costs microseconds.
pub fn token_hash(token: &str) -> String {
    hex(&sha2::Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes make a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashing cannot fail on valid input")
        .to_string()
}

/// argon2's verification compares in constant time.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of no one's password, verified against when the user does not exist.
pub const DUMMY_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$GfjS6Ixf1Y0Ax2Xu+Xs7B6w7rWS8Zc1xZw2Ybx3pUSQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_are_hex() {
        let (first, second) = (new_token(), new_token());
        assert_ne!(first, second);
        assert_eq!(first.len(), TOKEN_MARKER.len() + 40);
        assert!(first.starts_with(TOKEN_MARKER));
        assert_eq!(token_prefix(&first).len(), 12);
        assert_eq!(token_hash(&first).len(), 64);
        assert_eq!(token_hash(&first), token_hash(&first));
        assert!(!token_hash(&first).contains(&first[TOKEN_MARKER.len()..]));
        assert!(could_be_a_token(&first));
        for not_issued in [
            "abc",
            "tap_",
            &first[..first.len() - 1],
            &format!("{first}0"),
            &first.to_uppercase(),
            &first.replace("tap_", "pat_"),
            &format!("tap_{}", "g".repeat(40)),
        ] {
            assert!(!could_be_a_token(not_issued), "{not_issued}");
        }
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let stored = hash_password("correct horse");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &stored));
        assert!(!verify_password("wrong horse", &stored));
        assert!(!verify_password("anything", "not a hash"));
        assert!(
            PasswordHash::new(DUMMY_PASSWORD_HASH).is_ok(),
            "the dummy hash must parse, or timing would differ"
        );
    }
}
