//! Scope strings. Graph scopes may be written short (`Calendars.ReadWrite`)
//! or with the resource (`https://graph.microsoft.com/Calendars.ReadWrite`);
//! the emulator stores them short, as Graph reports them in `scp`.

use std::collections::BTreeSet;

const GRAPH: &str = "https://graph.microsoft.com/";

/// OpenID Connect scopes: not Graph permissions.
pub const OIDC: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Delegated Graph permissions the emulator knows.
pub const DELEGATED: [&str; 9] = [
    "User.Read",
    "User.ReadBasic.All",
    "Calendars.Read",
    "Calendars.ReadWrite",
    "Calendars.Read.Shared",
    "Calendars.ReadWrite.Shared",
    "Calendars.ReadBasic",
    "Place.Read.All",
    "MailboxSettings.Read",
];

/// Application permissions (app roles) the emulator knows.
pub const APPLICATION: [&str; 4] = [
    "Calendars.Read",
    "Calendars.ReadWrite",
    "Place.Read.All",
    "User.Read.All",
];

/// Permissions that personal Microsoft accounts cannot be granted
/// (Microsoft Graph permissions reference: "Delegated (personal Microsoft
/// account): Not supported").
pub const WORK_ONLY: [&str; 3] = [
    "Place.Read.All",
    "User.ReadBasic.All",
    "Calendars.ReadBasic",
];

/// Human words for the consent page.
pub fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "Sign you in",
        "profile" => "View your basic profile",
        "email" => "View your email address",
        "offline_access" => "Maintain access to data you have given it access to",
        "User.Read" => "Sign you in and read your profile",
        "User.ReadBasic.All" => "Read all users' basic profiles",
        "Calendars.Read" => "Read your calendars",
        "Calendars.ReadWrite" => "Have full access to your calendars",
        "Calendars.Read.Shared" => "Read calendars you can access",
        "Calendars.ReadWrite.Shared" => "Read and write calendars you can access",
        "Calendars.ReadBasic" => "Read basic details of your calendars",
        "Place.Read.All" => "Read all company places",
        "MailboxSettings.Read" => "Read your mailbox settings",
        _ => "Unknown permission",
    }
}

/// Parse a space-separated `scope` parameter into short names.
/// `.default` stands for the app's configured permissions.
pub fn parse(raw: &str, configured: &BTreeSet<String>) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for s in raw.split_whitespace() {
        let short = s.strip_prefix(GRAPH).unwrap_or(s);
        if short == ".default" {
            out.extend(configured.iter().cloned());
            continue;
        }
        let known = OIDC.contains(&short) || DELEGATED.contains(&short);
        if !known {
            return Err(format!("The scope '{s}' does not exist."));
        }
        out.insert(short.to_string());
    }
    if out.is_empty() {
        return Err("The scope parameter is empty.".into());
    }
    Ok(out)
}

/// The Graph permissions in a set (what a token's `scp` holds).
pub fn graph_only(scopes: &BTreeSet<String>) -> BTreeSet<String> {
    scopes
        .iter()
        .filter(|s| !OIDC.contains(&s.as_str()))
        .cloned()
        .collect()
}

pub fn join(scopes: &BTreeSet<String>) -> String {
    scopes.iter().cloned().collect::<Vec<_>>().join(" ")
}
