//! Personal data at rest and on screen: encryption with a key from configuration, a keyed
//! fingerprint for look-ups, and masking for display.
//!
//! Resident ID numbers and phone numbers are stored only as ciphertext. The fingerprint (an
//! HMAC of the normalised value) lets the store find or de-duplicate a person without
//! decrypting; it never leaves the server. The algorithm is named in every ciphertext
//! (`aes256gcm:`), so that another (for example SM4 under 国密 rules) can be added beside it
//! without re-encrypting what is stored.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the personal-data key must be 32 bytes, base64-encoded (got {0} bytes)")]
    KeyLength(usize),
    #[error("the personal-data key is not valid base64")]
    KeyEncoding,
    #[error("a stored ciphertext is malformed or was encrypted with another key")]
    Ciphertext,
}

/// The secret for personal data. `Debug` never prints it.
#[derive(Clone)]
pub struct PiiKey([u8; 32]);

impl PiiKey {
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = B64.decode(text.trim()).map_err(|_| CryptoError::KeyEncoding)?;
        let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| CryptoError::KeyLength(bytes.len()))?;
        Ok(Self(arr))
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }
}

impl fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PiiKey(<redacted>)")
    }
}

/// Encrypts and decrypts personal data; cheap to clone.
#[derive(Clone, Debug)]
pub struct PiiCipher {
    key: PiiKey,
}

const AES_PREFIX: &str = "aes256gcm:";

impl PiiCipher {
    pub fn new(key: PiiKey) -> Self {
        Self { key }
    }

    /// `aes256gcm:` followed by base64 of a fresh 96-bit nonce and the sealed text.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let cipher = Aes256Gcm::new_from_slice(&self.key.0).expect("32-byte key");
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("aes-gcm seals any length we use");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{AES_PREFIX}{}", B64.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        let body = stored.strip_prefix(AES_PREFIX).ok_or(CryptoError::Ciphertext)?;
        let bytes = B64.decode(body).map_err(|_| CryptoError::Ciphertext)?;
        if bytes.len() < 12 + 16 {
            return Err(CryptoError::Ciphertext);
        }
        let cipher = Aes256Gcm::new_from_slice(&self.key.0).expect("32-byte key");
        let (nonce, sealed) = bytes.split_at(12);
        let plain = cipher.decrypt(Nonce::from_slice(nonce), sealed).map_err(|_| CryptoError::Ciphertext)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Ciphertext)
    }

    /// A keyed fingerprint for finding a value without decrypting it.
    pub fn fingerprint(&self, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key.0).expect("hmac takes any key length");
        mac.update(b"dadong-pii-fingerprint\0");
        mac.update(value.trim().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Keeps the first `keep_start` and last `keep_end` characters and stars the rest.
pub fn mask_middle(value: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep_start || i >= chars.len() - keep_end { *c } else { '*' })
        .collect()
}

/// A mainland mobile number shown as `138****5678`.
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

/// Validates a mainland mobile number: 11 digits starting with 1.
pub fn parse_phone(input: &str) -> Result<String, String> {
    let p: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit()) {
        Ok(p)
    } else {
        Err(format!("'{}' is not an 11-digit mobile number", mask_phone(input)))
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A random token of `bytes` bytes in URL-safe base64, for sessions and CSRF.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_round_trips_and_ciphertexts_differ() {
        let c = PiiCipher::new(PiiKey::generate());
        let a = c.encrypt("13812345678");
        let b = c.encrypt("13812345678");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("1381234"));
        assert_eq!(c.decrypt(&a).unwrap(), "13812345678");
        assert_eq!(c.fingerprint("13812345678"), c.fingerprint(" 13812345678"));
        let other = PiiCipher::new(PiiKey::generate());
        assert_eq!(other.decrypt(&a), Err(CryptoError::Ciphertext));
        assert_eq!(c.decrypt("aes256gcm:!!"), Err(CryptoError::Ciphertext));
    }

    #[test]
    fn keys_parse_and_never_print() {
        let k = PiiKey::generate();
        assert!(PiiKey::from_base64(&k.to_base64()).is_ok());
        assert_eq!(PiiKey::from_base64("AAAA").unwrap_err(), CryptoError::KeyLength(3));
        assert_eq!(format!("{k:?}"), "PiiKey(<redacted>)");
    }

    #[test]
    fn phones_mask_and_validate() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(parse_phone("138-1234-5678").unwrap(), "13812345678");
        assert!(parse_phone("23812345678").is_err());
        assert!(parse_phone("1381234567").is_err());
    }
}
