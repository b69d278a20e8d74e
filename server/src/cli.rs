//! The `calbridge` command line.

use std::io::BufRead;
use std::path::PathBuf;

use backend::accounts::{self, NewUser, Role};
use backend::config::Settings;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "calbridge",
    version,
    about = "Library bookings with Outlook calendar sync"
)]
pub struct Cli {
    /// TOML configuration file (default: $CALBRIDGE_CONFIG or ./calbridge.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve Calbridge (the default).
    Serve {
        /// Create demo accounts when the database has none.
        #[arg(long)]
        seed_demo: bool,
    },
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Re-encrypt every stored secret with the active key of the keyring
    /// (`master_key_active`), so older keys can then be removed.
    RotateKey,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Legacy Exchange (password authentication) settings.
    Legacy {
        #[command(subcommand)]
        action: LegacyAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum LegacyAction {
    /// Import settings from a CSV file with the header
    /// `owner_kind,owner,server_url,account,password` (owner: a staff
    /// member's email, or a space's id or name). The whole file is checked
    /// first; if any line is bad, nothing is imported.
    Import {
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create an account. The password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, staff or patron
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] backend::config::ConfigError),
    #[error(transparent)]
    Startup(#[from] crate::startup::StartupError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Account(#[from] accounts::AccountError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    MasterKey(#[from] backend::master_key::MasterKeyError),
    #[error("re-encrypting secrets: {0}")]
    Rotation(#[from] backend::integration::StoreError),
    #[error(transparent)]
    LegacyImport(#[from] backend::legacy::ImportError),
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve { seed_demo: false }) {
        Command::Serve { seed_demo } => {
            settings.seed_demo |= seed_demo;
            let app = crate::startup::Application::build(settings).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = backend::db::connect(&settings.database_url).await?;
            backend::db::migrate(&db).await?;
            println!("database is up to date");
        }
        Command::RotateKey => rotate_key(&settings).await?,
        Command::Legacy {
            action: LegacyAction::Import { file },
        } => import_legacy(&settings, &file).await?,
        Command::User {
            action: UserAction::Add { email, name, role },
        } => {
            let role: Role = role.parse()?;
            eprintln!("Password for {email} (one line on standard input):");
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let db = backend::db::connect(&settings.database_url).await?;
            backend::db::migrate(&db).await?;
            let user = accounts::create_user(
                &db,
                NewUser {
                    email: &email,
                    display_name: &name,
                    role,
                    password,
                },
            )
            .await?;
            println!(
                "created {} account {} (id {})",
                user.role, user.email, user.id
            );
        }
    }
    Ok(())
}

async fn rotate_key(settings: &Settings) -> Result<(), CliError> {
    let vault = backend::vault::Vault::load(settings)?;
    let db = backend::db::connect(&settings.database_url).await?;
    backend::db::migrate(&db).await?;
    let report = backend::rotation::rotate_all(&db, &vault).await?;
    println!(
        "re-encrypted {} secret(s) with key {:?}; every stored secret now uses it",
        report.resealed,
        vault.active_key_id()
    );
    Ok(())
}

async fn import_legacy(settings: &Settings, file: &std::path::Path) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
    let vault = backend::vault::Vault::load(settings)?;
    let db = backend::db::connect(&settings.database_url).await?;
    backend::db::migrate(&db).await?;
    let imported = backend::legacy::import_csv(&db, &vault, &text, chrono::Utc::now()).await?;
    println!(
        "imported {imported} legacy Exchange setting(s) from {}",
        file.display()
    );
    Ok(())
}
