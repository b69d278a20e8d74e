//! Legacy Exchange "password authentication" settings of staff members and
//! spaces, carried over from installations that synced with a password.
//!
//! They stay exactly as they are until their owner connects by OAuth 2;
//! the connection code then calls [`replace_on_oauth_connect`] in its own
//! transaction. The password is sealed by the vault and never leaves this
//! module except through [`password`], for a sync that still needs it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Set, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};

use crate::accounts::{self, Role, User};
use crate::entities::{legacy_exchange_setting, space, user};
use crate::vault::{Purpose, Sealed, Vault, VaultError};

/// Shown wherever the settings are.
pub const NOTE: &str = "Microsoft turned off basic authentication for Exchange Online on 1 October 2022; connecting with OAuth 2 replaces these settings.";
pub const CSV_HEADER: [&str; 5] = ["owner_kind", "owner", "server_url", "account", "password"];
pub const MAX_URL_LEN: usize = 500;
pub const MAX_ACCOUNT_LEN: usize = 320;
pub const MAX_PASSWORD_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// `owner_id` is a staff member's user id.
    Staff,
    /// `owner_id` is a space id.
    Space,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Staff => "staff",
            OwnerKind::Space => "space",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "staff" => Some(OwnerKind::Staff),
            "space" => Some(OwnerKind::Space),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// Bad input; `field` names the form field the message belongs next to.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no such staff member or space")]
    OwnerNotFound,
    #[error("stored password: {0}")]
    Vault(#[from] VaultError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, message: impl Into<String>) -> LegacyError {
    LegacyError::Invalid {
        field,
        message: message.into(),
    }
}

/// The settings as pages show them: never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacySettings {
    pub owner_kind: OwnerKind,
    pub owner_id: i64,
    pub server_url: String,
    pub account: String,
    pub password_saved: bool,
    pub updated_at: DateTime<Utc>,
}

/// What an admin enters. `password: None` keeps the saved one.
pub struct LegacyInput {
    pub server_url: String,
    pub account: String,
    pub password: Option<SecretString>,
}

// Written by hand: the password never lands in a log line.
impl std::fmt::Debug for LegacyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyInput")
            .field("server_url", &self.server_url)
            .field("account", &self.account)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

fn view(m: legacy_exchange_setting::Model) -> Option<LegacySettings> {
    Some(LegacySettings {
        owner_kind: OwnerKind::parse(&m.owner_kind)?,
        owner_id: m.owner_id,
        server_url: m.server_url,
        account: m.account,
        password_saved: !m.password_sealed.is_empty(),
        updated_at: m.updated_at,
    })
}

async fn row(
    db: &impl ConnectionTrait,
    kind: OwnerKind,
    owner_id: i64,
) -> Result<Option<legacy_exchange_setting::Model>, DbErr> {
    legacy_exchange_setting::Entity::find()
        .filter(legacy_exchange_setting::Column::OwnerKind.eq(kind.as_str()))
        .filter(legacy_exchange_setting::Column::OwnerId.eq(owner_id))
        .one(db)
        .await
}

pub async fn get(
    db: &impl ConnectionTrait,
    kind: OwnerKind,
    owner_id: i64,
) -> Result<Option<LegacySettings>, DbErr> {
    Ok(row(db, kind, owner_id).await?.and_then(view))
}

/// The saved password, for a sync that still uses password authentication.
pub async fn password(
    db: &impl ConnectionTrait,
    vault: &Vault,
    kind: OwnerKind,
    owner_id: i64,
) -> Result<Option<SecretString>, LegacyError> {
    match row(db, kind, owner_id).await? {
        Some(m) => Ok(Some(vault.open(
            Purpose::LegacyExchangePassword,
            &Sealed::from_stored(m.password_sealed),
        )?)),
        None => Ok(None),
    }
}

struct ValidInput {
    server_url: String,
    account: String,
}

fn validate(input: &LegacyInput) -> Result<ValidInput, LegacyError> {
    let url = input.server_url.trim();
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if !host.is_some_and(|h| !h.is_empty() && !h.contains(char::is_whitespace)) {
        return Err(invalid(
            "server_url",
            "enter the server's URL, e.g. https://mail.example.org/EWS/Exchange.asmx",
        ));
    }
    if url.chars().count() > MAX_URL_LEN {
        return Err(invalid(
            "server_url",
            format!("the URL may have at most {MAX_URL_LEN} characters"),
        ));
    }
    let account = input.account.trim();
    if account.is_empty() {
        return Err(invalid("account", "the account is required"));
    }
    if account.chars().count() > MAX_ACCOUNT_LEN {
        return Err(invalid(
            "account",
            format!("the account may have at most {MAX_ACCOUNT_LEN} characters"),
        ));
    }
    if let Some(p) = &input.password {
        if p.expose_secret().is_empty() {
            return Err(invalid("password", "the password is required"));
        }
        if p.expose_secret().chars().count() > MAX_PASSWORD_LEN {
            return Err(invalid(
                "password",
                format!("the password may have at most {MAX_PASSWORD_LEN} characters"),
            ));
        }
    }
    Ok(ValidInput {
        server_url: url.to_owned(),
        account: account.to_owned(),
    })
}

/// `OwnerNotFound` unless the owner exists (a staff or admin account, or a
/// space).
async fn ensure_owner(
    db: &impl ConnectionTrait,
    kind: OwnerKind,
    owner_id: i64,
) -> Result<(), LegacyError> {
    let found = match kind {
        OwnerKind::Staff => user::Entity::find_by_id(owner_id)
            .one(db)
            .await?
            .and_then(|m| User::try_from(m).ok())
            .is_some_and(|u| u.role.satisfies(Role::Staff)),
        OwnerKind::Space => space::Entity::find_by_id(owner_id).one(db).await?.is_some(),
    };
    if found {
        Ok(())
    } else {
        Err(LegacyError::OwnerNotFound)
    }
}

/// Enters or replaces an owner's settings. A new entry needs a password;
/// a replacement without one keeps the saved password.
pub async fn set(
    db: &DatabaseConnection,
    vault: &Vault,
    kind: OwnerKind,
    owner_id: i64,
    input: &LegacyInput,
    now: DateTime<Utc>,
) -> Result<LegacySettings, LegacyError> {
    let valid = validate(input)?;
    let txn = db.begin().await?;
    ensure_owner(&txn, kind, owner_id).await?;
    let saved = write(
        &txn,
        vault,
        kind,
        owner_id,
        valid,
        input.password.as_ref(),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

async fn write(
    db: &impl ConnectionTrait,
    vault: &Vault,
    kind: OwnerKind,
    owner_id: i64,
    valid: ValidInput,
    password: Option<&SecretString>,
    now: DateTime<Utc>,
) -> Result<LegacySettings, LegacyError> {
    let sealed = password.map(|p| {
        vault
            .seal(Purpose::LegacyExchangePassword, p)
            .as_stored()
            .to_owned()
    });
    let model = match (row(db, kind, owner_id).await?, sealed) {
        (Some(existing), sealed) => {
            let mut m: legacy_exchange_setting::ActiveModel = existing.into();
            m.server_url = Set(valid.server_url);
            m.account = Set(valid.account);
            if let Some(sealed) = sealed {
                m.password_sealed = Set(sealed);
            }
            m.updated_at = Set(now);
            m.update(db).await?
        }
        (None, Some(sealed)) => {
            legacy_exchange_setting::ActiveModel {
                owner_kind: Set(kind.as_str().to_owned()),
                owner_id: Set(owner_id),
                server_url: Set(valid.server_url),
                account: Set(valid.account),
                password_sealed: Set(sealed),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
        (None, None) => return Err(invalid("password", "the password is required")),
    };
    view(model).ok_or_else(|| LegacyError::Db(DbErr::Custom("bad owner kind".into())))
}

/// Removes an owner's settings; `false` when there were none.
pub async fn clear(
    db: &impl ConnectionTrait,
    kind: OwnerKind,
    owner_id: i64,
) -> Result<bool, DbErr> {
    let result = legacy_exchange_setting::Entity::delete_many()
        .filter(legacy_exchange_setting::Column::OwnerKind.eq(kind.as_str()))
        .filter(legacy_exchange_setting::Column::OwnerId.eq(owner_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Called by the OAuth connection code, in the transaction that stores the
/// new connection: the OAuth connection replaces the password settings.
/// `owner_kind` is "staff" or "space". Returns whether there were any.
pub async fn replace_on_oauth_connect(
    txn: &impl ConnectionTrait,
    owner_kind: &str,
    owner_id: i64,
) -> Result<bool, DbErr> {
    match OwnerKind::parse(owner_kind) {
        Some(kind) => clear(txn, kind, owner_id).await,
        None => Ok(false),
    }
}

/// Re-seals every password not sealed with the active key (`rotate-key`).
pub async fn reseal_all(db: &impl ConnectionTrait, vault: &Vault) -> Result<u64, LegacyError> {
    let mut resealed = 0;
    for m in legacy_exchange_setting::Entity::find().all(db).await? {
        let sealed = Sealed::from_stored(m.password_sealed.clone());
        if let Some(new) = vault.reseal(Purpose::LegacyExchangePassword, &sealed)? {
            let mut a: legacy_exchange_setting::ActiveModel = m.into();
            a.password_sealed = Set(new.as_stored().to_owned());
            a.update(db).await?;
            resealed += 1;
        }
    }
    Ok(resealed)
}

/// A problem with one line of an import file (1-based line numbers, the
/// header being line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("nothing was imported; fix these lines:\n{}", list(.0))]
    Lines(Vec<LineError>),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn list(errors: &[LineError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One valid line, ready to write.
struct ImportRow {
    kind: OwnerKind,
    owner_id: i64,
    valid: ValidInput,
    password: SecretString,
}

/// Imports settings from CSV (`owner_kind,owner,server_url,account,password`;
/// `owner` is a staff member's email, or a space's id or name). The whole
/// file is checked first: if any line is bad, nothing is written and every
/// bad line is reported. Existing settings of an owner are replaced.
/// Returns the number of settings written.
pub async fn import_csv(
    db: &DatabaseConnection,
    vault: &Vault,
    text: &str,
    now: DateTime<Utc>,
) -> Result<u64, ImportError> {
    let rows = parse_csv(db, text).await?;
    let txn = db.begin().await?;
    for r in &rows {
        let valid = ValidInput {
            server_url: r.valid.server_url.clone(),
            account: r.valid.account.clone(),
        };
        write(
            &txn,
            vault,
            r.kind,
            r.owner_id,
            valid,
            Some(&r.password),
            now,
        )
        .await
        .map_err(|e| match e {
            LegacyError::Db(e) => ImportError::Db(e),
            other => ImportError::Db(DbErr::Custom(other.to_string())),
        })?;
    }
    txn.commit().await?;
    Ok(rows.len() as u64)
}

async fn parse_csv(db: &DatabaseConnection, text: &str) -> Result<Vec<ImportRow>, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    let mut header_checked = false;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(LineError {
                    line,
                    message: format!("not valid CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if !header_checked {
            header_checked = true;
            let header: Vec<String> = record.iter().map(|f| f.trim().to_lowercase()).collect();
            if header != CSV_HEADER {
                return Err(ImportError::Lines(vec![LineError {
                    line,
                    message: format!("the header must be {}", CSV_HEADER.join(",")),
                }]));
            }
            continue;
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match parse_row(db, &record).await? {
            Ok(row) if !seen.insert((row.kind, row.owner_id)) => errors.push(LineError {
                line,
                message: "this owner appears on an earlier line too".into(),
            }),
            Ok(row) => rows.push(row),
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    if !header_checked {
        return Err(ImportError::Lines(vec![LineError {
            line: 1,
            message: format!(
                "the file is empty; the header must be {}",
                CSV_HEADER.join(",")
            ),
        }]));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(ImportError::Lines(errors))
    }
}

/// `Ok(Err(message))` for a bad line; `Err` only for database failures.
async fn parse_row(
    db: &DatabaseConnection,
    record: &csv::StringRecord,
) -> Result<Result<ImportRow, String>, DbErr> {
    if record.len() != CSV_HEADER.len() {
        return Ok(Err(format!(
            "expected {} fields, found {}",
            CSV_HEADER.len(),
            record.len()
        )));
    }
    let Some(kind) = OwnerKind::parse(&record[0]) else {
        return Ok(Err(format!(
            "owner_kind {:?} must be staff or space",
            &record[0]
        )));
    };
    let owner_id = match find_owner(db, kind, record[1].trim()).await? {
        Ok(id) => id,
        Err(message) => return Ok(Err(message)),
    };
    let password = SecretString::from(record[4].to_owned());
    let input = LegacyInput {
        server_url: record[2].to_owned(),
        account: record[3].to_owned(),
        password: Some(password.clone()),
    };
    Ok(match validate(&input) {
        Ok(valid) => Ok(ImportRow {
            kind,
            owner_id,
            valid,
            password,
        }),
        Err(LegacyError::Invalid { field, message }) => Err(format!("{field}: {message}")),
        Err(other) => Err(other.to_string()),
    })
}

async fn find_owner(
    db: &DatabaseConnection,
    kind: OwnerKind,
    owner: &str,
) -> Result<Result<i64, String>, DbErr> {
    match kind {
        OwnerKind::Staff => {
            let email = accounts::normalise_email(owner);
            let found = user::Entity::find()
                .filter(user::Column::Email.eq(email.as_str()))
                .one(db)
                .await?
                .and_then(|m| User::try_from(m).ok());
            Ok(match found {
                Some(u) if u.role.satisfies(Role::Staff) => Ok(u.id),
                Some(_) => Err(format!("{email} is not a staff account")),
                None => Err(format!("no account with the email {email}")),
            })
        }
        OwnerKind::Space => {
            if let Ok(id) = owner.parse::<i64>()
                && space::Entity::find_by_id(id).one(db).await?.is_some()
            {
                return Ok(Ok(id));
            }
            let named = space::Entity::find()
                .filter(space::Column::Name.eq(owner))
                .all(db)
                .await?;
            Ok(match named.as_slice() {
                [one] => Ok(one.id),
                [] => Err(format!("no space with the id or name {owner:?}")),
                _ => Err(format!(
                    "several spaces are named {owner:?}; use the space's id"
                )),
            })
        }
    }
}
