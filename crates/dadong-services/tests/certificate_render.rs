//! The licence PDF as a reader sees it: rendered to an image by poppler's `pdftoppm`, its
//! Chinese read back by OCR (tesseract with the simplified-Chinese model) and its QR code
//! decoded from the pixels. Nothing here trusts the PDF's bytes.
//!
//! Needs Debian's `poppler-utils`, `tesseract-ocr` and `tesseract-ocr-chi-sim` (CI installs
//! them); without them the test says loudly that it was skipped, and fails under CI.

use std::path::Path;
use std::process::Command;

use dadong_services::certificate::{CertificateKey, Licence, verify};

fn in_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "0" && v != "false").unwrap_or(false)
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("-v").output().is_ok()
}

fn licence() -> Licence {
    Licence {
        id: "LIC-202611-000042".into(),
        credit_code: "91210104800000424T".into(),
        name: "沈阳东塔机械制造有限公司".into(),
        company_type: "有限责任公司".into(),
        legal_representative: "王建国".into(),
        registered_capital: "100万元人民币".into(),
        address: "辽宁省沈阳市大东区东塔街12号".into(),
        business_scope: "通用设备制造；机械零部件加工".into(),
        established: jiff::civil::date(2026, 11, 27),
        authority: "沈阳市大东区市场监督管理局".into(),
    }
}

fn render(pdf: &Path, dpi: u32) -> std::path::PathBuf {
    let prefix = pdf.with_extension(format!("r{dpi}"));
    let status = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-png", "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .expect("pdftoppm runs");
    assert!(status.success(), "pdftoppm failed on the certificate");
    prefix.with_extension(format!("r{dpi}.png"))
}

#[test]
fn licence_renders_chinese_text_and_a_qr_code_that_reads_back() {
    if !have("pdftoppm") || !have("tesseract") {
        if in_ci() {
            panic!("pdftoppm and tesseract are required under CI but missing");
        }
        eprintln!("\n*** SKIPPED licence rendering: poppler-utils or tesseract-ocr(-chi-sim) missing ***\n");
        return;
    }
    let key = CertificateKey::generate();
    let url = "http://127.0.0.1:8080/verify/LIC-202611-000042";
    let file = key.issue(&licence(), url).unwrap();
    assert_eq!(verify(&file, &key.verifying_key()).unwrap().id, "LIC-202611-000042");

    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("licence.pdf");
    std::fs::write(&pdf, &file).unwrap();

    // The Chinese text, read from the rendered page.
    let png = render(&pdf, 200);
    let out = Command::new("tesseract")
        .arg(&png)
        .arg("stdout")
        .args(["-l", "chi_sim"])
        .output()
        .expect("tesseract runs");
    assert!(out.status.success(), "tesseract failed: {}", String::from_utf8_lossy(&out.stderr));
    let text: String = String::from_utf8_lossy(&out.stdout).chars().filter(|c| !c.is_whitespace()).collect();
    for expected in [
        "营业执照",
        "统一社会信用代码",
        "法定代表人",
        "王建国",
        "沈阳东塔机械制造有限公司",
        "市场监督管理局",
        "91210104800000424T",
        "2026年11月27日",
    ] {
        assert!(
            text.contains(expected),
            "'{expected}' not read back from the rendered licence; OCR read:\n{text}"
        );
    }

    // The QR code, decoded from the pixels, points to the certificate's verification page.
    if let Ok(keep) = std::env::var("DADONG_KEEP_LICENCE") {
        std::fs::copy(&pdf, keep).unwrap();
    }
    let png = render(&pdf, 150);
    let image = image::open(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the page");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(content, url);
}
