//! Electronic certificates (电子证照): the business licence (营业执照) of a company opened
//! through the platform, as a PDF with Chinese text, a QR code pointing to `/verify/<id>` and an
//! Ed25519 signature over the whole file.
//!
//! The signature is appended to the PDF as a final comment line,
//! `%dadong-signature ed25519 <id> <base64 signature>`, followed by `%%EOF`. PDF readers skip
//! comments after the document's own trailer, so the file opens everywhere, and the signed
//! message is the certificate's id and the SHA-256 of every byte before that line: changing a
//! single byte of the document, or moving the signature to another document, breaks it. A
//! signature made with any other key is a forgery. The registry (`/verify/<id>`) also keeps the
//! SHA-256 of the file it issued, so a verifier online learns whether the id was issued at all.
//!
//! Rendering is deterministic: the same licence gives the same bytes (no clock is read; the PDF's
//! dates come from the licence), so a test can check a certificate byte for byte.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use dadong_domain::crypto::sha256_hex;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use jiff::civil::Date;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::text::{Font, TextDirection};

/// The CJK font certificates are set in (Apache-2.0, see `fonts/README.md`).
const CJK_TTF: &[u8] = include_bytes!("../fonts/DroidSansFallbackFull.ttf");
/// The font for ASCII, which the CJK font lacks (see `fonts/README.md`).
const LATIN_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// A font for drawing (krilla) and for measuring advances (ttf-parser).
struct Face {
    font: Font,
    face: ttf_parser::Face<'static>,
}

impl Face {
    fn load(bytes: &'static [u8]) -> Face {
        Face {
            font: Font::new(bytes.into(), 0).expect("a bundled font parses"),
            face: ttf_parser::Face::parse(bytes, 0).expect("a bundled font parses"),
        }
    }

    /// The width of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        let per_unit = size / f32::from(self.face.units_per_em());
        text.chars()
            .map(|c| {
                let glyph = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0)) * per_unit
            })
            .sum()
    }
}

static CJK: LazyLock<Face> = LazyLock::new(|| Face::load(CJK_TTF));
static LATIN: LazyLock<Face> = LazyLock::new(|| Face::load(LATIN_TTF));

/// `text` cut into runs of one face each: printable ASCII in the Latin face, the rest in CJK.
fn runs(text: &str) -> Vec<(&'static Face, &str)> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut current: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let latin = c.is_ascii_graphic() || c == ' ';
        if current.is_some_and(|l| l != latin) {
            runs.push((face(current == Some(true)), &text[start..i]));
            start = i;
        }
        current = Some(latin);
    }
    if start < text.len() {
        runs.push((face(current == Some(true)), &text[start..]));
    }
    runs
}

fn face(latin: bool) -> &'static Face {
    if latin { &LATIN } else { &CJK }
}

/// The width of `text` set in runs.
fn text_width(text: &str, size: f32) -> f32 {
    runs(text).iter().map(|(face, run)| face.width(run, size)).sum()
}

const SIGNATURE_MARK: &[u8] = b"%dadong-signature ";
const SIGNATURE_ALGORITHM: &str = "ed25519";
const MESSAGE_DOMAIN: &str = "dadong-certificate-v1";

/// Longest text of one licence field, in characters.
pub const FIELD_CHARS_MAX: usize = 400;

/// What a business licence states.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Licence {
    /// The certificate's id in the registry, the last part of its `/verify/<id>` address.
    pub id: String,
    pub credit_code: String,
    /// 名称
    pub name: String,
    /// 类型, e.g. 有限责任公司
    pub company_type: String,
    /// 法定代表人
    pub legal_representative: String,
    /// 注册资本, as printed (e.g. "100万元人民币")
    pub registered_capital: String,
    /// 住所
    pub address: String,
    /// 经营范围
    pub business_scope: String,
    /// 成立日期
    pub established: Date,
    /// 登记机关
    pub authority: String,
}

impl Licence {
    /// Checks the fields a licence must print: none empty, none too long, no control characters.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("id", &self.id),
            ("credit_code", &self.credit_code),
            ("name", &self.name),
            ("company_type", &self.company_type),
            ("legal_representative", &self.legal_representative),
            ("registered_capital", &self.registered_capital),
            ("address", &self.address),
            ("business_scope", &self.business_scope),
            ("authority", &self.authority),
        ];
        for (field, value) in fields {
            if value.trim().is_empty() {
                return Err(format!("the licence's {field} is empty"));
            }
            if value.chars().count() > FIELD_CHARS_MAX {
                return Err(format!("the licence's {field} is longer than {FIELD_CHARS_MAX} characters"));
            }
            if value.chars().any(char::is_control) {
                return Err(format!("the licence's {field} holds a control character"));
            }
        }
        if !self.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err("a certificate id holds only letters, digits, '-' and '_'".into());
        }
        Ok(())
    }
}

/// The platform's certificate key.
pub struct CertificateKey {
    signing: SigningKey,
}

impl std::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateKey").field("public", &self.public_base64()).finish_non_exhaustive()
    }
}

impl CertificateKey {
    /// A new random key.
    pub fn generate() -> CertificateKey {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        CertificateKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The key from its 32-byte seed in base64 (as [`CertificateKey::secret_base64`] writes it).
    pub fn from_secret_base64(text: &str) -> Result<CertificateKey, String> {
        let bytes = BASE64.decode(text.trim()).map_err(|_| "the certificate key is not base64".to_string())?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| "the certificate key is not 32 bytes".to_string())?;
        Ok(CertificateKey {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    pub fn secret_base64(&self) -> String {
        BASE64.encode(self.signing.to_bytes())
    }

    pub fn public_base64(&self) -> String {
        BASE64.encode(self.signing.verifying_key().to_bytes())
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// Renders `licence` with a QR code for `verify_url` and signs the file.
    pub fn issue(&self, licence: &Licence, verify_url: &str) -> Result<Vec<u8>, String> {
        licence.validate()?;
        let mut pdf = render_pdf(licence, verify_url)?;
        let signature = self.signing.sign(message(&licence.id, &pdf).as_bytes());
        pdf.extend_from_slice(SIGNATURE_MARK);
        pdf.extend_from_slice(format!("{SIGNATURE_ALGORITHM} {} {}\n%%EOF\n", licence.id, BASE64.encode(signature.to_bytes())).as_bytes());
        Ok(pdf)
    }
}

/// Parses a public key in base64.
pub fn verifying_key_from_base64(text: &str) -> Result<VerifyingKey, String> {
    let bytes = BASE64.decode(text.trim()).map_err(|_| "the public key is not base64".to_string())?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "the public key is not 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "the public key is not an Ed25519 point".to_string())
}

fn message(id: &str, document: &[u8]) -> String {
    format!("{MESSAGE_DOMAIN}\n{id}\n{}", sha256_hex(document))
}

/// A file whose signature checks out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The certificate id the signature names.
    pub id: String,
    /// SHA-256 of the whole file, as the registry records it.
    pub file_sha256: String,
}

/// Why a file is not a genuine certificate. Messages are shown to whoever checks it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the file carries no platform signature: it is not a certificate issued here, or it was re-saved")]
    Unsigned,
    #[error("the signature line is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature uses '{0}', which this platform does not issue")]
    Algorithm(String),
    #[error("the signature does not match the document: it was altered after issue, or forged")]
    BadSignature,
}

/// Checks a certificate file against the platform's public key. Reads at most the file's last
/// signature line; hostile input is refused, never trusted.
pub fn verify(file: &[u8], key: &VerifyingKey) -> Result<Verified, VerifyError> {
    let at = rfind(file, SIGNATURE_MARK).ok_or(VerifyError::Unsigned)?;
    let document = &file[..at];
    let rest = &file[at + SIGNATURE_MARK.len()..];
    let line_end = rest.iter().position(|&b| b == b'\n').ok_or(VerifyError::Malformed("no line end"))?;
    if &rest[line_end + 1..] != b"%%EOF\n" {
        return Err(VerifyError::Malformed("bytes follow the signature"));
    }
    let line = std::str::from_utf8(&rest[..line_end]).map_err(|_| VerifyError::Malformed("not text"))?;
    let mut parts = line.split(' ');
    let (Some(algorithm), Some(id), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(VerifyError::Malformed("expected an algorithm, an id and a signature"));
    };
    if algorithm != SIGNATURE_ALGORITHM {
        return Err(VerifyError::Algorithm(algorithm.chars().take(32).collect()));
    }
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(VerifyError::Malformed("bad certificate id"));
    }
    let signature = BASE64.decode(signature).map_err(|_| VerifyError::Malformed("signature is not base64"))?;
    let signature = Signature::from_slice(&signature).map_err(|_| VerifyError::Malformed("signature is not 64 bytes"))?;
    key.verify(message(id, document).as_bytes(), &signature)
        .map_err(|_| VerifyError::BadSignature)?;
    Ok(Verified {
        id: id.to_string(),
        file_sha256: sha256_hex(file),
    })
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// A4 in points.
const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 60.0;
const QR_SIZE: f32 = 110.0;

/// The licence as an unsigned PDF.
pub fn render_pdf(licence: &Licence, verify_url: &str) -> Result<Vec<u8>, String> {
    let qr = qrcode::QrCode::with_error_correction_level(verify_url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| format!("the verification address does not fit a QR code: {e}"))?;
    let mut document = Document::new();
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).expect("A4 is a valid page size");
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();

    let red = rgb::Color::new(176, 30, 35);
    let black = rgb::Color::new(20, 20, 20);
    let fill = |color: rgb::Color| Fill {
        paint: color.into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    };

    // A double frame, as printed licences have.
    surface.set_fill(None);
    for (inset, width) in [(24.0, 3.0), (32.0, 1.0)] {
        surface.set_stroke(Some(Stroke {
            paint: red.into(),
            width,
            ..Default::default()
        }));
        let mut frame = PathBuilder::new();
        if let Some(rect) = Rect::from_xywh(inset, inset, PAGE_W - 2.0 * inset, PAGE_H - 2.0 * inset) {
            frame.push_rect(rect);
        }
        if let Some(path) = frame.finish() {
            surface.draw_path(&path);
        }
    }
    surface.set_stroke(None);

    let text = |surface: &mut krilla::surface::Surface, x: f32, y: f32, size: f32, color: rgb::Color, s: &str| {
        surface.set_fill(Some(fill(color)));
        let mut x = x;
        for (face, run) in runs(s) {
            surface.draw_text(Point::from_xy(x, y), face.font.clone(), size, run, false, TextDirection::Auto);
            x += face.width(run, size);
        }
    };

    let centred = |s: &str, size: f32| (PAGE_W - text_width(s, size)) / 2.0;
    text(&mut surface, centred("营 业 执 照", 40.0), 120.0, 40.0, red, "营 业 执 照");
    text(&mut surface, centred("（电子营业执照）", 14.0), 150.0, 14.0, black, "（电子营业执照）");

    let label_size = 14.0;
    let value_x = MARGIN + 125.0;
    let value_w = PAGE_W - value_x - MARGIN;
    let mut y = 210.0;
    let rows: [(&str, String); 8] = [
        ("统一社会信用代码", licence.credit_code.clone()),
        ("名　　称", licence.name.clone()),
        ("类　　型", licence.company_type.clone()),
        ("法定代表人", licence.legal_representative.clone()),
        ("注册资本", licence.registered_capital.clone()),
        ("成立日期", chinese_date(licence.established)),
        ("住　　所", licence.address.clone()),
        ("经营范围", licence.business_scope.clone()),
    ];
    for (label, value) in rows {
        text(&mut surface, MARGIN, y, label_size, black, label);
        for line in wrap(&value, label_size, value_w) {
            text(&mut surface, value_x, y, label_size, black, &line);
            y += label_size * 1.7;
        }
        y += 8.0;
    }

    // The QR code, drawn module by module as filled squares.
    let qr_x = MARGIN;
    let qr_y = PAGE_H - MARGIN - QR_SIZE - 40.0;
    let width = qr.width();
    let quiet = 2usize;
    let module = QR_SIZE / (width + 2 * quiet) as f32;
    let colors = qr.to_colors();
    let mut modules = PathBuilder::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (row, col) = (i / width, i % width);
            let x = qr_x + (col + quiet) as f32 * module;
            let y = qr_y + (row + quiet) as f32 * module;
            if let Some(rect) = Rect::from_xywh(x, y, module, module) {
                modules.push_rect(rect);
            }
        }
    }
    surface.set_fill(Some(fill(black)));
    if let Some(path) = modules.finish() {
        surface.draw_path(&path);
    }
    text(&mut surface, qr_x, qr_y + QR_SIZE + 18.0, 10.0, black, "扫描二维码核验真伪");

    let seal_x = PAGE_W - MARGIN - 200.0;
    text(&mut surface, seal_x, PAGE_H - MARGIN - 90.0, 14.0, black, "登记机关");
    text(&mut surface, seal_x, PAGE_H - MARGIN - 64.0, 14.0, red, &licence.authority);
    text(&mut surface, seal_x, PAGE_H - MARGIN - 38.0, 14.0, black, &chinese_date(licence.established));
    text(&mut surface, MARGIN, PAGE_H - 44.0, 8.0, black, &format!("证照编号 {}", licence.id));

    surface.finish();
    page.finish();

    let established = licence.established;
    let when = DateTime::new(established.year() as u16)
        .month(established.month() as u8)
        .day(established.day() as u8);
    document.set_metadata(
        Metadata::new()
            .title(format!("营业执照 {}", licence.name))
            .creation_date(when)
            .language("zh-CN".to_string()),
    );
    document.finish().map_err(|e| format!("the PDF could not be written: {e:?}"))
}

/// `2022年8月31日`
pub fn chinese_date(date: Date) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

/// Splits `text` into lines no wider than `width` at `size`.
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0.0;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let w = text_width(c.encode_utf8(&mut buf), size);
        if used + w > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            used = 0.0;
        }
        line.push(c);
        used += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence() -> Licence {
        Licence {
            id: "LIC-2026-000001".into(),
            credit_code: "91210104MA0XXXXXXX".into(),
            name: "沈阳东塔机械制造有限公司".into(),
            company_type: "有限责任公司（自然人投资或控股）".into(),
            legal_representative: "王建国".into(),
            registered_capital: "100万元人民币".into(),
            address: "辽宁省沈阳市大东区东塔街12号".into(),
            business_scope: "通用设备制造；机械零部件加工；技术服务、技术开发、技术咨询".into(),
            established: jiff::civil::date(2026, 11, 27),
            authority: "沈阳市大东区市场监督管理局".into(),
        }
    }

    #[test]
    fn issued_certificate_verifies_and_is_deterministic() {
        let key = CertificateKey::generate();
        let a = key.issue(&licence(), "http://127.0.0.1:8080/verify/LIC-2026-000001").unwrap();
        let b = key.issue(&licence(), "http://127.0.0.1:8080/verify/LIC-2026-000001").unwrap();
        assert_eq!(a, b, "rendering and Ed25519 signing are deterministic");
        assert!(a.starts_with(b"%PDF-"));
        let verified = verify(&a, &key.verifying_key()).unwrap();
        assert_eq!(verified.id, "LIC-2026-000001");
        assert_eq!(verified.file_sha256, sha256_hex(&a));
    }

    #[test]
    fn any_altered_byte_fails() {
        let key = CertificateKey::generate();
        let good = key.issue(&licence(), "http://x/verify/LIC-2026-000001").unwrap();
        let mark = rfind(&good, SIGNATURE_MARK).unwrap();
        for at in [0, 10, good.len() / 3, good.len() / 2, mark - 2] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            assert_eq!(verify(&bad, &key.verifying_key()), Err(VerifyError::BadSignature), "byte {at}");
        }
        // Another id in the signature line
        let text = good.clone();
        let mut bad = text[..mark].to_vec();
        bad.extend_from_slice(&text[mark..]);
        let line = String::from_utf8_lossy(&bad[mark..]).replace("LIC-2026-000001", "LIC-2026-000002");
        bad.truncate(mark);
        bad.extend_from_slice(line.as_bytes());
        assert_eq!(verify(&bad, &key.verifying_key()), Err(VerifyError::BadSignature));
    }

    #[test]
    fn forged_and_malformed_files_fail() {
        let key = CertificateKey::generate();
        let forger = CertificateKey::generate();
        let forged = forger.issue(&licence(), "http://x/verify/LIC-2026-000001").unwrap();
        assert_eq!(verify(&forged, &key.verifying_key()), Err(VerifyError::BadSignature));
        assert_eq!(verify(b"%PDF-1.7 nothing", &key.verifying_key()), Err(VerifyError::Unsigned));
        assert!(matches!(
            verify(b"%dadong-signature ed25519 x", &key.verifying_key()),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            verify(b"%dadong-signature rsa a b\n%%EOF\n", &key.verifying_key()),
            Err(VerifyError::Algorithm(_))
        ));
        assert!(matches!(
            verify(b"%dadong-signature ed25519 a!b c\n%%EOF\n", &key.verifying_key()),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            verify(b"%dadong-signature ed25519 a zz\n%%EOF\n", &key.verifying_key()),
            Err(VerifyError::Malformed(_))
        ));
        let good = key.issue(&licence(), "http://x/verify/LIC-2026-000001").unwrap();
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"junk");
        assert!(matches!(verify(&trailing, &key.verifying_key()), Err(VerifyError::Malformed(_))));
    }

    #[test]
    fn keys_round_trip_through_base64() {
        let key = CertificateKey::generate();
        let again = CertificateKey::from_secret_base64(&key.secret_base64()).unwrap();
        assert_eq!(again.public_base64(), key.public_base64());
        assert_eq!(verifying_key_from_base64(&key.public_base64()).unwrap(), key.verifying_key());
        assert!(CertificateKey::from_secret_base64("bm90IGEga2V5").is_err());
    }

    #[test]
    fn licences_with_bad_fields_are_refused() {
        let mut bad = licence();
        bad.name = " ".into();
        assert!(bad.validate().unwrap_err().contains("name"));
        let mut bad = licence();
        bad.id = "../x".into();
        assert!(bad.validate().is_err());
        let mut bad = licence();
        bad.address = "a\u{0}b".into();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn text_is_cut_into_runs_of_one_face() {
        let r: Vec<&str> = runs("注册资本100万元 ABC").into_iter().map(|(_, run)| run).collect();
        assert_eq!(r, ["注册资本", "100", "万元", " ABC"]);
        assert!(text_width("100", 10.0) > 0.0 && text_width("100", 10.0) < text_width("一百零", 10.0));
    }

    #[test]
    fn wrapping_keeps_every_character() {
        let text = "通用设备制造；机械零部件加工；技术服务、技术开发、技术咨询 ABC";
        let lines = wrap(text, 14.0, 100.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), text);
    }
}
