//! Departments and user accounts: roles, scope (department, company, assigned enterprises),
//! Argon2id passwords and personal data kept encrypted.

use crate::audit::{self, Actor};
use crate::{Result, Store, StoreError, now_ms};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use dadong_domain::crypto::{mask_phone, parse_phone};
use dadong_domain::{CreditCode, ResidentId, Role};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A user as the rest of the platform sees one: no password hash, personal data masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department_id: Option<i64>,
    /// The credit code of the company an enterprise agent or merchant acts for.
    pub company_code: Option<String>,
    pub phone_masked: Option<String>,
    pub id_number_masked: Option<String>,
    pub active: bool,
}

/// What it takes to create a user; validated by [`Store::create_user`].
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role: String,
    pub department_code: Option<String>,
    pub company_code: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
}

impl NewUser {
    /// A user with the four fields every user has; the others by the methods below or `..`.
    pub fn new(username: &str, display_name: &str, role: &str, password: &str) -> NewUser {
        NewUser {
            username: username.into(),
            display_name: display_name.into(),
            password: password.into(),
            role: role.into(),
            ..NewUser::default()
        }
    }

    /// A clerk's department.
    pub fn in_department(self, code: &str) -> NewUser {
        NewUser {
            department_code: Some(code.into()),
            ..self
        }
    }

    /// The company an enterprise agent or merchant acts for, by its credit code.
    pub fn for_company(self, credit_code: &str) -> NewUser {
        NewUser {
            company_code: Some(credit_code.into()),
            ..self
        }
    }
}

pub const PASSWORD_LEN_MIN: usize = 8;
pub const PASSWORD_LEN_MAX: usize = 128;

fn validate_username(name: &str) -> Result<String> {
    let name = name.trim().to_ascii_lowercase();
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if !(3..=32).contains(&name.len()) || !ok_chars {
        return Err(StoreError::invalid(
            "username",
            "3 to 32 characters: lower-case letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(name)
}

pub fn validate_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(PASSWORD_LEN_MIN..=PASSWORD_LEN_MAX).contains(&n) {
        return Err(StoreError::invalid(
            "password",
            format!("must be {PASSWORD_LEN_MIN} to {PASSWORD_LEN_MAX} characters"),
        ));
    }
    Ok(())
}

/// Hashes on a blocking thread: Argon2id is deliberately slow.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Config(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Config(format!("password hashing task failed: {e}")))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody has, verified when the user does not exist, so that the
/// answer takes as long as for a real user and does not reveal which names exist.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The check before an insert does not see a row that another transaction has inserted but
/// not yet committed (PostgreSQL runs such transactions side by side; SQLite's write lock
/// queues them), so the unique index refuses it instead: the caller gets the same answer the
/// check would have given.
fn taken_or(err: sqlx::Error, refusal: impl FnOnce() -> StoreError) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => refusal(),
        _ => err.into(),
    }
}

const USER_COLUMNS: &str = "id, username, display_name, role, department_id, company_code, phone_enc, id_number_enc, active";

/// [`USER_COLUMNS`] qualified by a table alias, for joins.
pub(crate) fn user_columns(alias: &str) -> String {
    USER_COLUMNS.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

impl Store {
    pub(crate) fn user_from_row(&self, row: &AnyRow) -> Result<User> {
        let role: String = row.try_get(3)?;
        let unmask = |enc: Option<String>, mask: fn(&str) -> String| -> Option<String> {
            enc.map(|e| self.pii().decrypt(&e).map(|p| mask(&p)).unwrap_or_else(|_| "(unreadable)".to_string()))
        };
        Ok(User {
            id: row.try_get(0)?,
            username: row.try_get(1)?,
            display_name: row.try_get(2)?,
            role: Role::parse(&role).map_err(|e| StoreError::Config(e.to_string()))?,
            department_id: row.try_get(4)?,
            company_code: row.try_get(5)?,
            phone_masked: unmask(row.try_get(6)?, mask_phone),
            id_number_masked: unmask(row.try_get(7)?, |id| dadong_domain::crypto::mask_middle(id, 6, 4)),
            active: row.try_get::<i64, _>(8)? == 1,
        })
    }

    pub async fn create_department(&self, actor: &Actor, code: &str, name_zh: &str, name_en: &str) -> Result<Department> {
        let code = code.trim().to_ascii_lowercase();
        if code.is_empty() || code.len() > 32 || !code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(StoreError::invalid("code", "1 to 32 characters: lower-case letters, digits or '_'"));
        }
        let (name_zh, name_en) = (name_zh.trim(), name_en.trim());
        if name_zh.is_empty() || name_zh.chars().count() > 64 {
            return Err(StoreError::invalid("name_zh", "1 to 64 characters"));
        }
        if name_en.is_empty() || name_en.chars().count() > 128 {
            return Err(StoreError::invalid("name_en", "1 to 128 characters"));
        }
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
            .bind(&code)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!("a department with code '{code}' exists")));
        }
        let id: i64 = sqlx::query_scalar("INSERT INTO departments (code, name_zh, name_en, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(&code)
            .bind(name_zh)
            .bind(name_en)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| taken_or(e, || StoreError::Conflict(format!("a department with code '{code}' exists"))))?;
        let dept = Department {
            id,
            code,
            name_zh: name_zh.to_string(),
            name_en: name_en.to_string(),
        };
        let after = serde_json::to_value(&dept).expect("serialisable");
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "department.create",
            &format!("department:{id}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(dept)
    }

    pub async fn departments(&self) -> Result<Vec<Department>> {
        let rows = sqlx::query("SELECT id, code, name_zh, name_en FROM departments ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Department {
                    id: r.try_get(0)?,
                    code: r.try_get(1)?,
                    name_zh: r.try_get(2)?,
                    name_en: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn department(&self, id: i64) -> Result<Option<Department>> {
        Ok(self.departments().await?.into_iter().find(|d| d.id == id))
    }

    /// Creates a user after checking every field; the password is hashed with Argon2id and
    /// personal data encrypted. Nothing is stored when any field is refused.
    pub async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User> {
        let username = validate_username(&new.username)?;
        let display_name = new.display_name.trim().to_string();
        if display_name.is_empty() || display_name.chars().count() > 64 {
            return Err(StoreError::invalid("display_name", "1 to 64 characters"));
        }
        validate_password(&new.password)?;
        let role = Role::parse(&new.role).map_err(|e| StoreError::invalid("role", e.to_string()))?;
        let company_code = match new.company_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(code) => Some(CreditCode::parse(code).map_err(|e| StoreError::invalid("company_code", e.to_string()))?),
            None if role.needs_company() => {
                return Err(StoreError::invalid(
                    "company_code",
                    format!("a {role} acts for one company: give its credit code"),
                ));
            }
            None => None,
        };
        let phone = match new.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(p) => Some(parse_phone(p).map_err(|e| StoreError::invalid("phone", e))?),
            None => None,
        };
        let id_number = match new.id_number.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(p) => Some(ResidentId::parse(p).map_err(|e| StoreError::invalid("id_number", format!("resident ID {e}")))?),
            None => None,
        };
        let department_code = new.department_code.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if department_code.is_none() && role.needs_department() {
            return Err(StoreError::invalid("department", format!("a {role} works in one department: choose it")));
        }
        let hash = hash_password(new.password).await?;

        let mut tx = self.begin_write().await?;
        let department_id: Option<i64> = match department_code {
            Some(code) => Some(
                sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
                    .bind(code.to_ascii_lowercase())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::invalid("department", format!("there is no department '{code}'")))?,
            ),
            None => None,
        };
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(&username)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::invalid("username", format!("'{username}' is taken")));
        }
        let now = now_ms();
        let pii = self.pii();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, password_hash, role, department_id, company_code, phone_enc, phone_fp, id_number_enc, id_number_fp, active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11) RETURNING id",
        )
        .bind(&username)
        .bind(&display_name)
        .bind(&hash)
        .bind(role.key())
        .bind(department_id)
        .bind(company_code.as_ref().map(|c| c.as_str().to_string()))
        .bind(phone.as_deref().map(|p| pii.encrypt(p)))
        .bind(phone.as_deref().map(|p| pii.fingerprint(p)))
        .bind(id_number.as_ref().map(|p| pii.encrypt(p.as_str())))
        .bind(id_number.as_ref().map(|p| pii.fingerprint(p.as_str())))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| taken_or(e, || StoreError::invalid("username", format!("'{username}' is taken"))))?;
        let user = User {
            id,
            username,
            display_name,
            role,
            department_id,
            company_code: company_code.map(String::from),
            phone_masked: phone.as_deref().map(mask_phone),
            id_number_masked: id_number.as_ref().map(ResidentId::masked),
            active: true,
        };
        let after = serde_json::to_value(&user).expect("serialisable");
        audit::append(&mut tx, self.backend(), actor, "user.create", &format!("user:{id}"), None, Some(&after)).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter().map(|r| self.user_from_row(r)).collect()
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(username.trim().to_ascii_lowercase())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    /// Checks a password; `None` for an unknown or inactive user or a wrong password.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<Option<User>> {
        if password.len() > PASSWORD_LEN_MAX * 4 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT id, password_hash, active FROM users WHERE username = $1")
            .bind(username.trim().to_ascii_lowercase())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            let dummy = match DUMMY_HASH.get() {
                Some(h) => h.clone(),
                None => {
                    let h = hash_password("not a real password".to_string()).await?;
                    DUMMY_HASH.get_or_init(|| h).clone()
                }
            };
            verify_password(password.to_string(), dummy).await;
            return Ok(None);
        };
        let id: i64 = row.try_get(0)?;
        let hash: String = row.try_get(1)?;
        let active: i64 = row.try_get(2)?;
        if !verify_password(password.to_string(), hash).await || active != 1 {
            return Ok(None);
        }
        self.user(id).await
    }

    /// Sets a new password and ends the user's sessions.
    pub async fn set_password(&self, actor: &Actor, username: &str, password: &str) -> Result<()> {
        validate_password(password)?;
        let hash = hash_password(password.to_string()).await?;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar("UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3 RETURNING id")
            .bind(&hash)
            .bind(now_ms())
            .bind(username.trim().to_ascii_lowercase())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user '{username}'")))?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "user.password",
            &format!("user:{id}"),
            None,
            Some(&json!({"password": "changed"})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Assigns a cadre to an enterprise (包保), widening what the cadre may see.
    pub async fn assign_company(&self, actor: &Actor, user_id: i64, company_code: &str) -> Result<()> {
        let code = CreditCode::parse(company_code).map_err(|e| StoreError::invalid("company_code", e.to_string()))?;
        let user = self.user(user_id).await?.ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))?;
        if user.role != Role::Cadre {
            return Err(StoreError::invalid("user", "only cadres are assigned to enterprises"));
        }
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query("INSERT INTO user_assignments (user_id, company_code) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .bind(code.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 1 {
            let after = json!({"user_id": user_id, "company_code": code.as_str()});
            audit::append(
                &mut tx,
                self.backend(),
                actor,
                "assignment.create",
                &format!("user:{user_id}"),
                None,
                Some(&after),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The credit codes of the enterprises a cadre is assigned to: those given directly
    /// ([`Store::assign_company`]) and those of the cadre's service assignments
    /// ([`Store::assign`]). Each source keeps its own rows, so ending one leaves the other.
    pub async fn assigned_companies(&self, user_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT company_code FROM user_assignments WHERE user_id = $1 \
             UNION SELECT target FROM service_assignments WHERE user_id = $1 AND kind = 'enterprise' AND duty = 'cadre' \
             ORDER BY 1",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }
}
