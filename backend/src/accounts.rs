//! User accounts: roles, password hashing (argon2), creation and sign-in.

use std::fmt;
use std::str::FromStr;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};

use crate::entities::user;

/// What an account may do. Ordered: an admin can do what staff can, and
/// staff what patrons can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Patron,
    Staff,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Staff, Role::Patron];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patron => "patron",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    /// Whether someone with this role may open what needs `required`.
    pub fn satisfies(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "patron" => Ok(Role::Patron),
            "staff" => Ok(Role::Staff),
            "admin" => Ok(Role::Admin),
            other => Err(AccountError::Invalid(format!(
                "unknown role {other:?}: use admin, staff or patron"
            ))),
        }
    }
}

/// An account as the rest of the server sees it: no password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

impl TryFrom<user::Model> for User {
    type Error = AccountError;
    fn try_from(m: user::Model) -> Result<Self, Self::Error> {
        Ok(User {
            id: m.id,
            role: m.role.parse()?,
            email: m.email,
            display_name: m.display_name,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("an account with the email {0} already exists")]
    EmailTaken(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("password hashing failed")]
    Hashing,
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password: &'a str,
}

pub const MIN_PASSWORD_LEN: usize = 10;

pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn validate(new: &NewUser<'_>) -> Result<String, AccountError> {
    let email = normalise_email(new.email);
    let plausible = email.len() <= 320
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
    if !plausible {
        return Err(AccountError::Invalid(format!(
            "{:?} is not an email address",
            new.email
        )));
    }
    if new.display_name.trim().is_empty() {
        return Err(AccountError::Invalid("a display name is required".into()));
    }
    if new.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(email)
}

pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AccountError::Hashing)
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub async fn create_user(db: &DatabaseConnection, new: NewUser<'_>) -> Result<User, AccountError> {
    let email = validate(&new)?;
    if find_by_email(db, &email).await?.is_some() {
        return Err(AccountError::EmailTaken(email));
    }
    let password_hash = hash_password(new.password)?;
    let model = user::ActiveModel {
        email: Set(email),
        display_name: Set(new.display_name.trim().to_owned()),
        role: Set(new.role.as_str().to_owned()),
        password_hash: Set(password_hash),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    model.try_into()
}

async fn find_by_email(db: &DatabaseConnection, email: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Email.eq(normalise_email(email)))
        .one(db)
        .await
}

pub async fn find_by_id(db: &DatabaseConnection, id: i64) -> Result<Option<User>, AccountError> {
    match user::Entity::find_by_id(id).one(db).await? {
        Some(m) => Ok(Some(m.try_into()?)),
        None => Ok(None),
    }
}

pub async fn count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    user::Entity::find().count(db).await
}

/// A hash of a throwaway password, verified against when the email is
/// unknown so that both failure paths cost the same time.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("calbridge-timing-equaliser").expect("argon2 works"));

/// Checks an email and password. `None` for any mismatch: callers must not
/// be able to tell an unknown email from a wrong password.
pub async fn authenticate(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
) -> Result<Option<User>, AccountError> {
    let found = find_by_email(db, email).await?;
    let hash = found
        .as_ref()
        .map(|m| m.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let password = password.to_owned();
    // argon2 is deliberately slow; keep it off the async executor.
    let ok = tokio::task::spawn_blocking(move || password_matches(&password, &hash))
        .await
        .unwrap_or(false);
    match found {
        Some(m) if ok => Ok(Some(m.try_into()?)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_admin_over_staff_over_patron() {
        assert!(Role::Admin.satisfies(Role::Staff));
        assert!(Role::Staff.satisfies(Role::Patron));
        assert!(!Role::Patron.satisfies(Role::Staff));
        assert!(!Role::Staff.satisfies(Role::Admin));
        assert_eq!("Admin".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn hashes_verify_only_the_right_password() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2"));
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse batterY", &h));
        assert!(!password_matches("x", "not a hash"));
    }

    #[test]
    fn validation_rejects_bad_email_and_short_password() {
        let base = NewUser {
            email: "a@b.org",
            display_name: "A",
            role: Role::Patron,
            password: "long enough pw",
        };
        assert!(validate(&base).is_ok());
        assert!(
            validate(&NewUser {
                email: "nope",
                ..base
            })
            .is_err()
        );
        let base = NewUser {
            email: "a@b.org",
            display_name: "A",
            role: Role::Patron,
            password: "short",
        };
        assert!(validate(&base).is_err());
    }
}
