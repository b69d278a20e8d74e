//! Types that cross the wire between browser and server. Nothing here
//! may hold a secret: these are serialised into every page.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Patron,
    Staff,
    Admin,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Patron => "Patron",
            Role::Staff => "Staff",
            Role::Admin => "Admin",
        }
    }

    pub fn satisfies(self, required: Role) -> bool {
        self >= required
    }
}

/// The signed-in account, as pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

#[cfg(feature = "ssr")]
mod conversions {
    use super::*;
    use backend::accounts;

    impl From<accounts::Role> for Role {
        fn from(r: accounts::Role) -> Self {
            match r {
                accounts::Role::Patron => Role::Patron,
                accounts::Role::Staff => Role::Staff,
                accounts::Role::Admin => Role::Admin,
            }
        }
    }

    impl From<Role> for accounts::Role {
        fn from(r: Role) -> Self {
            match r {
                Role::Patron => accounts::Role::Patron,
                Role::Staff => accounts::Role::Staff,
                Role::Admin => accounts::Role::Admin,
            }
        }
    }

    impl From<accounts::User> for UserView {
        fn from(u: accounts::User) -> Self {
            UserView {
                id: u.id,
                email: u.email,
                display_name: u.display_name,
                role: u.role.into(),
            }
        }
    }
}
