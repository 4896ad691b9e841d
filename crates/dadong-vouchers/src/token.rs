//! The voucher token a citizen shows as a QR code and a merchant scans or types in.
//!
//! Text form: `DV1.<payload>.<signature>`, both parts unpadded base64url. The payload is 32
//! bytes: voucher id, campaign id, kind id and citizen id, each a big-endian `u64`; the
//! signature is Ed25519 over `dadong-voucher-v1` followed by the payload. Ed25519 signatures
//! are deterministic, so a voucher's token is the same every time the wallet shows it and
//! need not be stored. The token only proves the platform issued that voucher to that citizen;
//! whether it may be spent now is decided by the voucher's stored state.
//!
//! [`VoucherToken::parse`] is the only way in from untrusted text: it bounds the length,
//! checks the alphabet and exact sizes before decoding, and never panics (fuzzed by proptest
//! below).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

const PREFIX: &str = "DV1";
const DOMAIN: &[u8] = b"dadong-voucher-v1";
const PAYLOAD_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
/// The longest text [`VoucherToken::parse`] will look at.
pub const TOKEN_TEXT_MAX: usize = 160;

/// Why a token was refused; none of these changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this is not a voucher token")]
    Malformed,
    #[error("the voucher token's signature is not valid: forged or altered")]
    BadSignature,
}

impl TokenError {
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Malformed => "token_malformed",
            TokenError::BadSignature => "token_forged",
        }
    }
}

/// What a token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VoucherToken {
    pub voucher_id: i64,
    pub campaign_id: i64,
    pub kind_id: i64,
    pub citizen_id: i64,
}

/// A parsed token whose signature is still to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedToken {
    pub token: VoucherToken,
    payload: [u8; PAYLOAD_LEN],
    signature: [u8; SIGNATURE_LEN],
}

impl VoucherToken {
    fn payload(&self) -> [u8; PAYLOAD_LEN] {
        let mut p = [0u8; PAYLOAD_LEN];
        for (i, v) in [self.voucher_id, self.campaign_id, self.kind_id, self.citizen_id].into_iter().enumerate() {
            p[i * 8..i * 8 + 8].copy_from_slice(&(v as u64).to_be_bytes());
        }
        p
    }

    /// Reads a token's text without trusting any of it.
    pub fn parse(text: &str) -> Result<SignedToken, TokenError> {
        let text = text.trim();
        if text.len() > TOKEN_TEXT_MAX || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
            return Err(TokenError::Malformed);
        }
        let mut parts = text.split('.');
        let (Some(PREFIX), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str, len: usize| -> Result<Vec<u8>, TokenError> {
            let bytes = B64.decode(part).map_err(|_| TokenError::Malformed)?;
            if bytes.len() != len { Err(TokenError::Malformed) } else { Ok(bytes) }
        };
        let payload: [u8; PAYLOAD_LEN] = decode(p, PAYLOAD_LEN)?.try_into().map_err(|_| TokenError::Malformed)?;
        let signature: [u8; SIGNATURE_LEN] = decode(s, SIGNATURE_LEN)?.try_into().map_err(|_| TokenError::Malformed)?;
        let field = |i: usize| -> Result<i64, TokenError> {
            let v = u64::from_be_bytes(payload[i * 8..i * 8 + 8].try_into().map_err(|_| TokenError::Malformed)?);
            i64::try_from(v).ok().filter(|v| *v > 0).ok_or(TokenError::Malformed)
        };
        let token = VoucherToken {
            voucher_id: field(0)?,
            campaign_id: field(1)?,
            kind_id: field(2)?,
            citizen_id: field(3)?,
        };
        Ok(SignedToken { token, payload, signature })
    }
}

fn signed_message(payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + payload.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(payload);
    m
}

/// The platform's voucher signing key.
#[derive(Clone)]
pub struct VoucherKey {
    signing: SigningKey,
    verifying: VerifyingKey,
}

impl std::fmt::Debug for VoucherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoucherKey")
            .field("public", &hex::encode(self.verifying.as_bytes()))
            .finish_non_exhaustive()
    }
}

impl VoucherKey {
    /// The key from its 32-byte seed (which the caller generates from a secure source).
    pub fn from_seed(seed: &[u8; 32]) -> VoucherKey {
        let signing = SigningKey::from_bytes(seed);
        let verifying = signing.verifying_key();
        VoucherKey { signing, verifying }
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.verifying.as_bytes())
    }

    /// The token's text form, signed.
    pub fn sign(&self, token: &VoucherToken) -> String {
        let payload = token.payload();
        let signature = self.signing.sign(&signed_message(&payload));
        format!("{PREFIX}.{}.{}", B64.encode(payload), B64.encode(signature.to_bytes()))
    }

    /// Checks a parsed token's signature (strictly: no malleable encodings).
    pub fn verify(&self, signed: &SignedToken) -> Result<VoucherToken, TokenError> {
        let signature = Signature::from_bytes(&signed.signature);
        self.verifying
            .verify_strict(&signed_message(&signed.payload), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        Ok(signed.token)
    }

    /// Parses and verifies text in one step.
    pub fn open(&self, text: &str) -> Result<VoucherToken, TokenError> {
        self.verify(&VoucherToken::parse(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> VoucherKey {
        VoucherKey::from_seed(&[b; 32])
    }

    fn token() -> VoucherToken {
        VoucherToken {
            voucher_id: 123_456,
            campaign_id: 2,
            kind_id: 5,
            citizen_id: 99,
        }
    }

    #[test]
    fn a_signed_token_opens_to_what_was_signed_and_is_stable() {
        let text = key(1).sign(&token());
        assert!(text.starts_with("DV1.") && text.len() <= TOKEN_TEXT_MAX);
        assert_eq!(text, key(1).sign(&token()));
        assert_eq!(key(1).open(&text), Ok(token()));
        assert_eq!(key(1).open(&format!("  {text}\n")), Ok(token()));
    }

    #[test]
    fn another_keys_token_or_an_altered_payload_is_refused_as_forged() {
        let text = key(2).sign(&token());
        assert_eq!(key(1).open(&text), Err(TokenError::BadSignature));
        let mine = key(1).sign(&token());
        let mut other = token();
        other.voucher_id += 1;
        let theirs = key(1).sign(&other);
        // Someone else's payload under my signature.
        let spliced = format!("DV1.{}.{}", theirs.split('.').nth(1).unwrap(), mine.split('.').nth(2).unwrap());
        assert_eq!(key(1).open(&spliced), Err(TokenError::BadSignature));
    }

    #[test]
    fn malformed_text_is_refused_without_looking_further() {
        for bad in [
            "",
            "DV1",
            "DV1..",
            "DV2.AAAA.AAAA",
            "DV1.AAAA.AAAA.AAAA",
            "DV1.!!!!.????",
            &"A".repeat(10_000),
            "DV1.AAAA.AAAA",
        ] {
            assert_eq!(key(1).open(bad), Err(TokenError::Malformed), "{bad}");
        }
        let zero = VoucherToken { voucher_id: 0, ..token() };
        assert_eq!(key(1).open(&key(1).sign(&zero)), Err(TokenError::Malformed));
    }

    proptest! {
        #[test]
        fn hostile_text_never_panics_and_never_verifies(s in "\\PC{0,200}") {
            prop_assert!(key(1).open(&s).is_err());
        }

        #[test]
        fn any_single_character_changed_is_refused(pos in 0usize..130, c in "[A-Za-z0-9_.-]") {
            let text = key(1).sign(&token());
            let pos = pos % text.len();
            let mut altered: Vec<char> = text.chars().collect();
            let new = c.chars().next().unwrap();
            prop_assume!(altered[pos] != new);
            altered[pos] = new;
            let altered: String = altered.into_iter().collect();
            // A change in the last character's unused low bits decodes to the same bytes
            // only if base64 decoding were lax; the strict decoder refuses that too.
            prop_assert!(key(1).open(&altered).is_err());
        }
    }
}
