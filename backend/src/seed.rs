//! Demo accounts for a fresh installation, so the product can be tried at
//! once. Only created on an empty database, and only when asked
//! (`calbridge serve --seed-demo`, as the README's run command does).

use sea_orm::DatabaseConnection;

use crate::accounts::{self, AccountError, NewUser, Role};

pub struct DemoAccount {
    pub email: &'static str,
    pub display_name: &'static str,
    pub role: Role,
    pub password: &'static str,
}

/// Also listed in the README; they are public, so never use them on a
/// server that others can reach.
pub const DEMO_ACCOUNTS: [DemoAccount; 4] = [
    DemoAccount {
        email: "admin@calbridge.test",
        display_name: "Ada Admin",
        role: Role::Admin,
        password: "calbridge-admin",
    },
    DemoAccount {
        email: "sam@calbridge.test",
        display_name: "Sam Reference",
        role: Role::Staff,
        password: "calbridge-staff",
    },
    DemoAccount {
        email: "riley@calbridge.test",
        display_name: "Riley Outreach",
        role: Role::Staff,
        password: "calbridge-staff",
    },
    DemoAccount {
        email: "pat@calbridge.test",
        display_name: "Pat Patron",
        role: Role::Patron,
        password: "calbridge-patron",
    },
];

/// Creates the demo accounts when no account exists yet. Returns whether
/// it did, so the caller can print the credentials once.
pub async fn seed_demo_accounts(db: &DatabaseConnection) -> Result<bool, AccountError> {
    if accounts::count(db).await? > 0 {
        return Ok(false);
    }
    for a in &DEMO_ACCOUNTS {
        accounts::create_user(
            db,
            NewUser {
                email: a.email,
                display_name: a.display_name,
                role: a.role,
                password: a.password,
            },
        )
        .await?;
    }
    Ok(true)
}
