//! National identifiers with check digits: the Unified Social Credit Code (统一社会信用代码,
//! GB 32100-2015) and the resident identity number (公民身份号码, GB 11643-1999).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was refused; the message is shown to users as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be {expected} characters, got {got}")]
    Length { expected: usize, got: usize },
    #[error("character {position} ('{found}') is not allowed here")]
    Character { position: usize, found: char },
    #[error("the birth date {0} is not a real date")]
    BirthDate(String),
    #[error("check digit is '{found}', expected '{expected}'")]
    CheckDigit { found: char, expected: char },
}

/// The 31 characters of GB 32100-2015: digits and capitals without I, O, Z, S and V.
const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A Unified Social Credit Code whose check character is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

impl CreditCode {
    /// Parses a code; surrounding spaces are ignored, lower-case letters are accepted.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let code: String = input.trim().to_ascii_uppercase();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(IdError::Length {
                expected: 18,
                got: chars.len(),
            });
        }
        for (i, c) in chars.iter().enumerate() {
            // Characters 3 to 8 are the administrative division code: digits only.
            let ok = if (2..8).contains(&i) {
                c.is_ascii_digit()
            } else {
                USCC_ALPHABET.contains(*c)
            };
            if !ok {
                return Err(IdError::Character { position: i + 1, found: *c });
            }
        }
        let expected = Self::check_char(&code[..17]).expect("alphabet checked above");
        if chars[17] != expected {
            return Err(IdError::CheckDigit { found: chars[17], expected });
        }
        Ok(Self(code))
    }

    /// The check character for the first 17 characters, or `None` if one is outside the alphabet.
    pub fn check_char(first17: &str) -> Option<char> {
        let mut sum = 0u32;
        for (c, w) in first17.chars().zip(USCC_WEIGHTS) {
            sum += USCC_ALPHABET.find(c)? as u32 * w;
        }
        let check = (31 - sum % 31) % 31;
        USCC_ALPHABET.chars().nth(check as usize)
    }

    /// The six-digit administrative division code (characters 3 to 8), e.g. `210104` for Dadong.
    pub fn division(&self) -> &str {
        &self.0[2..8]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CreditCode> for String {
    fn from(value: CreditCode) -> Self {
        value.0
    }
}

const RID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RID_CHECK: &[u8; 11] = b"10X98765432";

/// An 18-character resident identity number with a real birth date and the right check digit.
///
/// This is personal data: it is stored encrypted and shown masked (see [`crate::crypto`]);
/// `Debug` prints it masked so that it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

impl ResidentId {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let id = input.trim().to_ascii_uppercase();
        let chars: Vec<char> = id.chars().collect();
        if chars.len() != 18 {
            return Err(IdError::Length {
                expected: 18,
                got: chars.len(),
            });
        }
        for (i, c) in chars.iter().enumerate() {
            let ok = c.is_ascii_digit() || (i == 17 && *c == 'X');
            if !ok {
                return Err(IdError::Character { position: i + 1, found: *c });
            }
        }
        let birth = &id[6..14];
        let date = jiff::civil::Date::strptime("%Y%m%d", birth).map_err(|_| IdError::BirthDate(birth.to_string()))?;
        if date.year() < 1900 {
            return Err(IdError::BirthDate(birth.to_string()));
        }
        let expected = Self::check_char(&id[..17]).expect("digits checked above");
        if chars[17] != expected {
            return Err(IdError::CheckDigit { found: chars[17], expected });
        }
        Ok(Self(id))
    }

    /// The check character for 17 digits, or `None` if one is not a digit.
    pub fn check_char(first17: &str) -> Option<char> {
        let mut sum = 0u32;
        for (c, w) in first17.chars().zip(RID_WEIGHTS) {
            sum += c.to_digit(10)? * w;
        }
        Some(RID_CHECK[(sum % 11) as usize] as char)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Shown to people: region and the last four kept, `210104**********1234`.
    pub fn masked(&self) -> String {
        crate::crypto::mask_middle(&self.0, 6, 4)
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_credit_codes_validate() {
        // Codes published on public business licences.
        for code in ["91350100M000100Y43", "91110000600037341L", "9144030071526726XG"] {
            assert!(CreditCode::parse(code).is_ok(), "{code}");
        }
        assert_eq!(CreditCode::parse("91350100M000100Y42"), Err(IdError::CheckDigit { found: '2', expected: '3' }));
        assert!(matches!(CreditCode::parse("91350100M000100Y4"), Err(IdError::Length { .. })));
        assert!(matches!(
            CreditCode::parse("91350100I000100Y43"),
            Err(IdError::Character { position: 9, found: 'I' })
        ));
    }

    #[test]
    fn known_resident_ids_validate() {
        // The worked example of GB 11643-1999 and a specimen with X.
        assert!(ResidentId::parse("11010519491231002X").is_ok());
        assert!(ResidentId::parse("440524188001010014").is_err(), "year 1880 is refused");
        assert!(ResidentId::parse("110105194912310021").is_err());
        assert!(matches!(ResidentId::parse("110105194913310029"), Err(IdError::BirthDate(_))));
        let id = ResidentId::parse("11010519491231002x").unwrap();
        assert_eq!(id.masked(), "110105********002X");
        assert!(!format!("{id:?}").contains("19491231"));
    }

    fn uscc_body() -> impl Strategy<Value = String> {
        let alpha: Vec<char> = USCC_ALPHABET.chars().collect();
        let alpha2 = alpha.clone();
        (
            proptest::collection::vec(proptest::sample::select(alpha), 2),
            proptest::collection::vec(proptest::char::range('0', '9'), 6),
            proptest::collection::vec(proptest::sample::select(alpha2), 9),
        )
            .prop_map(|(a, b, c)| a.into_iter().chain(b).chain(c).collect())
    }

    proptest! {
        #[test]
        fn a_generated_credit_code_with_its_check_char_is_accepted(body in uscc_body()) {
            let code = format!("{body}{}", CreditCode::check_char(&body).unwrap());
            prop_assert!(CreditCode::parse(&code).is_ok());
            let lower = CreditCode::parse(&code.to_lowercase()).unwrap();
            prop_assert_eq!(lower.as_str(), code.as_str());
        }

        #[test]
        fn changing_any_one_character_of_a_credit_code_is_caught(
            body in uscc_body(), pos in 0usize..18, replacement in proptest::sample::select(USCC_ALPHABET.chars().collect::<Vec<_>>())
        ) {
            let code: Vec<char> = format!("{body}{}", CreditCode::check_char(&body).unwrap()).chars().collect();
            prop_assume!(code[pos] != replacement);
            let mut altered = code.clone();
            altered[pos] = replacement;
            let altered: String = altered.into_iter().collect();
            // A weighted sum modulo the prime 31 catches every single substitution.
            prop_assert!(CreditCode::parse(&altered).is_err());
        }

        #[test]
        fn a_resident_id_with_its_check_digit_is_accepted_and_a_changed_digit_refused(
            region in 110000u32..660000, days in 0i64..40000, seq in 0u32..1000, pos in 0usize..17, delta in 1u32..10
        ) {
            let birth = jiff::civil::date(1920, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let body = format!("{region:06}{}{seq:03}", birth.strftime("%Y%m%d"));
            let id = format!("{body}{}", ResidentId::check_char(&body).unwrap());
            prop_assert!(ResidentId::parse(&id).is_ok());
            let mut chars: Vec<char> = id.chars().collect();
            let d = chars[pos].to_digit(10).unwrap();
            chars[pos] = char::from_digit((d + delta) % 10, 10).unwrap();
            let altered: String = chars.into_iter().collect();
            prop_assert!(ResidentId::parse(&altered).is_err());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = CreditCode::parse(&s);
            let _ = ResidentId::parse(&s);
        }
    }
}
