//! One way in for an exchange file (SPEC section 9), whoever brings it: the `dadong import`
//! command, the upload page and the API all hand the file's bytes to
//! [`Store::import_file_bytes`], which detects CSV or XLSX, checks every row against the
//! catalog and stores the rows all or nothing.

use crate::economy::{ImportFailure, ImportSummary};
use crate::{Actor, Store};
use dadong_economy::import::{self, FileFormat};

/// Which of the four exchange files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportKind {
    Enterprises,
    Indicators,
    Districts,
    Projects,
}

impl ImportKind {
    pub const ALL: [ImportKind; 4] = [ImportKind::Enterprises, ImportKind::Indicators, ImportKind::Districts, ImportKind::Projects];

    /// The kind's name as commands, forms and URLs spell it.
    pub fn key(self) -> &'static str {
        match self {
            ImportKind::Enterprises => "enterprises",
            ImportKind::Indicators => "indicators",
            ImportKind::Districts => "districts",
            ImportKind::Projects => "projects",
        }
    }

    pub fn parse(input: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.key() == input.trim())
    }
}

impl std::fmt::Display for ImportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl Store {
    /// Parses one exchange file of `kind` (CSV, or XLSX by its name or its zip signature) and
    /// stores it in one transaction with one audit record. Row-level problems, found by the
    /// parser or against the stored registry, come back as [`ImportFailure::Rows`], every one
    /// of them (up to the parser's limit), with nothing stored.
    pub async fn import_file_bytes(&self, actor: &Actor, kind: ImportKind, file_name: &str, bytes: &[u8]) -> Result<ImportSummary, ImportFailure> {
        let format: FileFormat = import::detect_format(file_name, bytes);
        let sha = dadong_domain::crypto::sha256_hex(bytes);
        let catalog: Vec<String> = self.indicator_catalog().await?.into_iter().map(|i| i.code).collect();
        let known: Vec<&str> = catalog.iter().map(String::as_str).collect();
        match kind {
            ImportKind::Enterprises => {
                let rows = import::parse_enterprises(bytes, format).map_err(|e| ImportFailure::Rows(e.0))?;
                self.import_enterprises(actor, file_name, &sha, &rows).await
            }
            ImportKind::Indicators => {
                let rows = import::parse_indicators(bytes, format, &known).map_err(|e| ImportFailure::Rows(e.0))?;
                self.import_indicators(actor, file_name, &sha, &rows).await
            }
            ImportKind::Districts => {
                let rows = import::parse_districts(bytes, format, &known).map_err(|e| ImportFailure::Rows(e.0))?;
                self.import_districts(actor, file_name, &sha, &rows).await
            }
            ImportKind::Projects => {
                let rows = import::parse_projects(bytes, format).map_err(|e| ImportFailure::Rows(e.0))?;
                self.import_projects(actor, file_name, &sha, &rows).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_keys_only() {
        for k in ImportKind::ALL {
            assert_eq!(ImportKind::parse(k.key()), Some(k));
        }
        assert_eq!(ImportKind::parse("Enterprises"), None);
        assert_eq!(ImportKind::parse(""), None);
    }
}
