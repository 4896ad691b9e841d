//! The demo district (SPEC section 8): a synthetic Dadong with fictional names, built from
//! raw records through the store's own operations (so every record is validated and audited
//! as a real one would be), deterministic from a seed.
//!
//! The foundation part creates the district's departments and one user for each role; the
//! product areas add their records here as they are built.

#![forbid(unsafe_code)]

pub mod appeals;
pub mod economy;
pub mod services;
pub mod vouchers;

use dadong_domain::crypto::random_token;
use dadong_domain::{CreditCode, ResidentId, Role};
use dadong_store::{Actor, NewUser, Result, Store};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const DEFAULT_SEED: u64 = 20220923;

/// The departments a district government's services and appeals route to (SPEC section 5).
pub const DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("market", "市场监督管理局", "Market Regulation Bureau"),
    ("police", "公安分局", "Public Security Branch"),
    ("tax", "税务局", "Tax Bureau"),
    ("bank", "合作银行", "Partner Banks"),
    ("hrss", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("housing_fund", "住房公积金管理中心", "Housing Provident Fund Centre"),
    ("ndrc", "发展和改革局", "Development and Reform Bureau"),
    ("natural_resources", "自然资源局", "Natural Resources Bureau"),
    ("construction", "住房和城乡建设局", "Housing and Construction Bureau"),
    ("ecology", "生态环境分局", "Ecology and Environment Branch"),
    ("miit", "工业和信息化局", "Industry and Information Technology Bureau"),
    ("commerce", "商务局", "Commerce Bureau"),
    ("science", "科技局", "Science and Technology Bureau"),
    ("finance", "财政局", "Finance Bureau"),
    ("statistics", "统计局", "Statistics Bureau"),
    ("business_env", "营商环境建设局", "Business Environment Bureau"),
];

/// Dadong's administrative division code, carried in its enterprises' credit codes.
pub const DADONG_DIVISION: &str = "210104";

/// A user the demo created, with the password shown once to the operator.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub role: Role,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub seed: u64,
    pub departments: usize,
    pub logins: Vec<DemoLogin>,
    pub economy: economy::EconomySummary,
    pub services: services::ServicesSummary,
    pub service: appeals::ServiceSummary,
    pub vouchers: vouchers::VoucherSummary,
}

/// A valid credit code of a company registered in Dadong, drawn from `rng`.
pub fn credit_code(rng: &mut impl Rng) -> CreditCode {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let org: String = (0..9).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    let body = format!("91{DADONG_DIVISION}{org}");
    let check = CreditCode::check_char(&body).expect("alphabet characters");
    CreditCode::parse(&format!("{body}{check}")).expect("built valid")
}

/// A valid credit code with the given two-character prefix (`91` a company, `92` an
/// individual business) whose organisation code encodes `index`, so distinct indexes give
/// distinct codes; the last organisation character is drawn from `rng`.
pub fn credit_code_with_org(rng: &mut impl Rng, prefix: &str, index: usize) -> CreditCode {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut org = String::new();
    let mut n = index;
    for _ in 0..8 {
        org.insert(0, ALPHABET[n % ALPHABET.len()] as char);
        n /= ALPHABET.len();
    }
    org.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    let body = format!("{prefix}{DADONG_DIVISION}{org}");
    let check = CreditCode::check_char(&body).expect("alphabet characters");
    CreditCode::parse(&format!("{body}{check}")).expect("built valid")
}

/// A valid resident ID of someone born in Dadong between 1960 and 2000, drawn from `rng`.
pub fn resident_id(rng: &mut impl Rng) -> ResidentId {
    let body = format!(
        "{DADONG_DIVISION}{:04}{:02}{:02}{:03}",
        rng.gen_range(1960..2000),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
        rng.gen_range(0..1000)
    );
    let check = ResidentId::check_char(&body).expect("digits");
    ResidentId::parse(&format!("{body}{check}")).expect("built valid")
}

/// True when the store holds no users yet, so the demo may be loaded into it.
pub async fn store_is_empty(store: &Store) -> Result<bool> {
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(store.pool()).await?;
    Ok(users == 0)
}

/// A demo user: role, name, department, company, username.
type Person<'a> = (Role, &'a str, Option<&'a str>, Option<String>, &'a str);

/// Builds the demo district into an empty store.
pub async fn load(store: &Store, seed: u64) -> Result<DemoSummary> {
    if !store_is_empty(store).await? {
        return Err(dadong_store::StoreError::Conflict(
            "the store already holds users; the demo loads only into an empty store".into(),
        ));
    }
    let started = std::time::Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let actor = Actor::Cli("demo".into());
    for (code, zh, en) in DEPARTMENTS {
        store.create_department(&actor, code, zh, en).await?;
    }
    let company = credit_code(&mut rng);
    let shop = credit_code(&mut rng);
    let citizen_id = resident_id(&mut rng);
    let people: [(Role, &str, Option<&str>, Option<String>); 8] = [
        (Role::Citizen, "林晓雨", None, None),
        (Role::Enterprise, "赵建国", None, Some(company.to_string())),
        (Role::Merchant, "孙丽华", None, Some(shop.to_string())),
        (Role::Clerk, "周文静", Some("market"), None),
        (Role::Cadre, "吴志刚", None, None),
        (Role::Analyst, "郑雅琪", Some("statistics"), None),
        (Role::Leader, "王明远", None, None),
        (Role::Admin, "陈思源", Some("business_env"), None),
    ];
    // The service hall and the four departments that open a company in parallel get a clerk
    // each, so that a bundle can be followed end to end.
    let clerks: [Person; 5] = [
        (Role::Clerk, "钱海燕", Some("business_env"), None, "clerk_hall"),
        (Role::Clerk, "冯国强", Some("police"), None, "clerk_police"),
        (Role::Clerk, "陈丽娟", Some("tax"), None, "clerk_tax"),
        (Role::Clerk, "褚志明", Some("bank"), None, "clerk_bank"),
        (Role::Clerk, "卫红梅", Some("hrss"), None, "clerk_hrss"),
    ];
    let people = people.into_iter().map(|(r, n, d, c)| (r, n, d, c, r.key())).chain(clerks);
    let mut logins = Vec::new();
    let mut applicants = Vec::new();
    let mut users = Vec::new();
    let mut merchant_user = 0;
    let mut citizen_user = 0;
    for (role, name, department, company_code, username) in people {
        // Passwords are random, not from the seed: a demo left running must not have guessable ones.
        let password = random_token(12);
        let phone = format!("139{:08}", rng.gen_range(0..100_000_000u32));
        let user = store
            .create_user(
                &actor,
                NewUser {
                    username: username.to_string(),
                    display_name: name.to_string(),
                    password: password.clone(),
                    role: role.key().to_string(),
                    department_code: department.map(str::to_string),
                    company_code,
                    phone: Some(phone),
                    id_number: (role == Role::Citizen).then(|| citizen_id.as_str().to_string()),
                },
            )
            .await?;
        if matches!(role, Role::Citizen | Role::Enterprise) {
            applicants.push(user.id);
        }
        if role == Role::Cadre {
            store.assign_company(&actor, user.id, company.as_str()).await?;
        }
        if role == Role::Merchant {
            merchant_user = user.id;
        }
        if role == Role::Citizen {
            citizen_user = user.id;
        }
        logins.push(DemoLogin {
            role,
            username: user.username.clone(),
            password,
        });
        users.push((role, user));
    }
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        users = users.len(),
        "demo departments and users made"
    );
    let phase = std::time::Instant::now();
    let economy = economy::load(store, &mut rng, &economy::ARTICLE).await?;
    tracing::info!(ms = phase.elapsed().as_millis() as u64, "demo economy loaded");
    let phase = std::time::Instant::now();
    let services = services::load(store, &mut rng, &services::ARTICLE, &applicants, jiff::Timestamp::now()).await?;
    tracing::info!(ms = phase.elapsed().as_millis() as u64, "demo services loaded");
    // Issue 6: the enterprise service, on the clock of the moment the demo is built.
    let phase = std::time::Instant::now();
    let service = appeals::load(store, &mut rng, &users, company.as_str(), jiff::Timestamp::now()).await?;
    tracing::info!(
        ms = phase.elapsed().as_millis() as u64,
        appeals = service.appeals,
        visits = service.visits,
        "demo enterprise service loaded"
    );
    let phase = std::time::Instant::now();
    let vouchers = vouchers::load(store, &mut rng, &actor, merchant_user, shop.as_str(), citizen_user).await?;
    tracing::info!(ms = phase.elapsed().as_millis() as u64, "demo vouchers loaded");
    Ok(DemoSummary {
        seed,
        departments: DEPARTMENTS.len(),
        logins,
        economy,
        services,
        service,
        vouchers,
    })
}
