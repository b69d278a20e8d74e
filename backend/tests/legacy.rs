//! Legacy Exchange password settings: sealed at rest, never shown, kept
//! until an OAuth connection replaces them, and imported in bulk from CSV
//! with the whole file checked before anything is written.

mod support;

use backend::accounts::{self, NewUser, Role};
use backend::availability::Hours;
use backend::entities::legacy_exchange_setting;
use backend::legacy::{self, ImportError, LegacyError, LegacyInput, OwnerKind};
use backend::spaces::{self, SpaceInput};
use backend::vault::Vault;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, TransactionTrait};
use secrecy::{ExposeSecret, SecretString};

on_both_databases!(
    settings_are_sealed_shown_without_password_and_cleared,
    an_oauth_connection_replaces_them,
    a_good_csv_imports_every_line,
    a_bad_csv_line_stops_the_whole_import,
    rotation_reseals_legacy_passwords,
);

fn now() -> DateTime<Utc> {
    "2026-12-01T08:00:00Z".parse().unwrap()
}

fn vault() -> Vault {
    Vault::parse(
        &SecretString::from("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        None,
    )
    .unwrap()
}

async fn user(db: &DatabaseConnection, email: &str, role: Role) -> i64 {
    accounts::create_user(
        db,
        NewUser {
            email,
            display_name: "Someone",
            role,
            password: "a-long-enough-password",
        },
    )
    .await
    .unwrap()
    .id
}

async fn space(db: &DatabaseConnection, name: &str) -> i64 {
    let input = SpaceInput {
        name: name.into(),
        location: String::new(),
        capacity: 2,
        time_zone: "UTC".into(),
        slot_minutes: 30,
        booking_window_days: 7,
        hours: vec![Hours {
            weekday: 0,
            opens: 540,
            closes: 600,
        }],
    };
    spaces::create(db, &input, now()).await.unwrap().id
}

fn input(password: Option<&str>) -> LegacyInput {
    LegacyInput {
        server_url: " https://mail.example.org/EWS/Exchange.asmx ".into(),
        account: "sam@example.org".into(),
        password: password.map(|p| SecretString::from(p.to_owned())),
    }
}

async fn count(db: &DatabaseConnection) -> u64 {
    legacy_exchange_setting::Entity::find()
        .count(db)
        .await
        .unwrap()
}

async fn settings_are_sealed_shown_without_password_and_cleared(db: DatabaseConnection) {
    let v = vault();
    let sam = user(&db, "sam@example.org", Role::Staff).await;
    let pat = user(&db, "pat@example.org", Role::Patron).await;
    // Bad input names its field; a new entry needs a password; a patron
    // has no sync settings.
    for (bad, field) in [
        (
            LegacyInput {
                server_url: "mail.example.org".into(),
                ..input(Some("pw"))
            },
            "server_url",
        ),
        (
            LegacyInput {
                account: " ".into(),
                ..input(Some("pw"))
            },
            "account",
        ),
        (input(None), "password"),
        (input(Some("")), "password"),
    ] {
        match legacy::set(&db, &v, OwnerKind::Staff, sam, &bad, now()).await {
            Err(LegacyError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }
    assert!(matches!(
        legacy::set(&db, &v, OwnerKind::Staff, pat, &input(Some("pw")), now()).await,
        Err(LegacyError::OwnerNotFound)
    ));
    assert_eq!(count(&db).await, 0);

    let saved = legacy::set(
        &db,
        &v,
        OwnerKind::Staff,
        sam,
        &input(Some("hunter2-secret")),
        now(),
    )
    .await
    .unwrap();
    assert!(saved.password_saved);
    assert_eq!(
        saved.server_url,
        "https://mail.example.org/EWS/Exchange.asmx"
    );
    let row = legacy_exchange_setting::Entity::find()
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.password_sealed.contains("hunter2"));
    assert!(!format!("{row:?}").contains(&row.password_sealed));
    let pw = legacy::password(&db, &v, OwnerKind::Staff, sam)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pw.expose_secret(), "hunter2-secret");
    assert!(!format!("{:?}", input(Some("hunter2-secret"))).contains("hunter2"));

    // Replacing without a password keeps the saved one.
    let replaced = LegacyInput {
        account: "sam2@example.org".into(),
        ..input(None)
    };
    legacy::set(&db, &v, OwnerKind::Staff, sam, &replaced, now())
        .await
        .unwrap();
    let shown = legacy::get(&db, OwnerKind::Staff, sam)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shown.account, "sam2@example.org");
    let pw = legacy::password(&db, &v, OwnerKind::Staff, sam)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pw.expose_secret(), "hunter2-secret");

    assert!(legacy::clear(&db, OwnerKind::Staff, sam).await.unwrap());
    assert!(!legacy::clear(&db, OwnerKind::Staff, sam).await.unwrap());
    assert!(
        legacy::get(&db, OwnerKind::Staff, sam)
            .await
            .unwrap()
            .is_none()
    );
    assert!(legacy::NOTE.contains("1 October 2022"));
}

async fn an_oauth_connection_replaces_them(db: DatabaseConnection) {
    let v = vault();
    let sam = user(&db, "sam@example.org", Role::Staff).await;
    let room = space(&db, "Room 1").await;
    for (kind, id) in [(OwnerKind::Staff, sam), (OwnerKind::Space, room)] {
        legacy::set(&db, &v, kind, id, &input(Some("pw")), now())
            .await
            .unwrap();
    }
    // Rolled back with the connection's transaction: still there.
    let txn = db.begin().await.unwrap();
    assert!(
        legacy::replace_on_oauth_connect(&txn, "staff", sam)
            .await
            .unwrap()
    );
    txn.rollback().await.unwrap();
    assert_eq!(count(&db).await, 2);
    let txn = db.begin().await.unwrap();
    assert!(
        legacy::replace_on_oauth_connect(&txn, "staff", sam)
            .await
            .unwrap()
    );
    txn.commit().await.unwrap();
    assert!(
        legacy::get(&db, OwnerKind::Staff, sam)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        legacy::get(&db, OwnerKind::Space, room)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_good_csv_imports_every_line(db: DatabaseConnection) {
    let v = vault();
    let sam = user(&db, "sam@example.org", Role::Staff).await;
    let room = space(&db, "Group room, 2nd floor").await;
    let other = space(&db, "Studio").await;
    legacy::set(&db, &v, OwnerKind::Staff, sam, &input(Some("old")), now())
        .await
        .unwrap();
    let csv = format!(
        "owner_kind,owner,server_url,account,password\n\
         staff,SAM@example.org,https://ex.example.org/EWS/Exchange.asmx,sam@ex.example.org,\"p,w\"\"1\"\n\
         space,\"Group room, 2nd floor\",https://ex.example.org/EWS/Exchange.asmx,room1@ex.example.org,pw2\n\
         \n\
         space,{other},https://ex.example.org/EWS/Exchange.asmx,studio@ex.example.org,pw3\n"
    );
    assert_eq!(legacy::import_csv(&db, &v, &csv, now()).await.unwrap(), 3);
    assert_eq!(count(&db).await, 3);
    let pw = legacy::password(&db, &v, OwnerKind::Staff, sam)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pw.expose_secret(), "p,w\"1");
    let r = legacy::get(&db, OwnerKind::Space, room)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.account, "room1@ex.example.org");
    assert!(
        legacy::get(&db, OwnerKind::Space, other)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_bad_csv_line_stops_the_whole_import(db: DatabaseConnection) {
    let v = vault();
    user(&db, "sam@example.org", Role::Staff).await;
    user(&db, "pat@example.org", Role::Patron).await;
    space(&db, "Room").await;
    let csv = "owner_kind,owner,server_url,account,password\n\
               staff,sam@example.org,https://ex.example.org/ews,sam,pw\n\
               staff,pat@example.org,https://ex.example.org/ews,pat,pw\n\
               space,Nowhere,https://ex.example.org/ews,x,pw\n\
               room,Room,https://ex.example.org/ews,x,pw\n\
               space,Room,ftp://ex.example.org,x,pw\n\
               space,Room,https://ex.example.org/ews,x\n\
               staff,sam@example.org,https://ex.example.org/ews,sam,pw\n\
               space,Room,https://ex.example.org/ews,x,\n";
    let err = legacy::import_csv(&db, &v, csv, now()).await.unwrap_err();
    let ImportError::Lines(lines) = &err else {
        panic!("expected line errors, got {err:?}");
    };
    let numbers: Vec<u64> = lines.iter().map(|l| l.line).collect();
    assert_eq!(numbers, [3, 4, 5, 6, 7, 8, 9], "{err}");
    let text = err.to_string();
    for expected in [
        "line 3: pat@example.org is not a staff account",
        "line 4: no space with the id or name \"Nowhere\"",
        "line 5: owner_kind \"room\" must be staff or space",
        "line 6: server_url:",
        "line 7: expected 5 fields, found 4",
        "line 8: this owner appears on an earlier line too",
        "line 9: password:",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_eq!(count(&db).await, 0, "nothing written, not even line 2");

    let bad_header = "kind,owner,url,account,password\nstaff,sam@example.org,https://x.org,a,b\n";
    let err = legacy::import_csv(&db, &v, bad_header, now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("line 1: the header must be"),
        "{err}"
    );
    assert!(legacy::import_csv(&db, &v, "", now()).await.is_err());
    assert_eq!(count(&db).await, 0);
}

async fn rotation_reseals_legacy_passwords(db: DatabaseConnection) {
    let old = vault();
    let sam = user(&db, "sam@example.org", Role::Staff).await;
    legacy::set(
        &db,
        &old,
        OwnerKind::Staff,
        sam,
        &input(Some("pw-1")),
        now(),
    )
    .await
    .unwrap();
    let both = Vault::parse(
        &SecretString::from(
            "k2:HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=,k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        Some("k2"),
    )
    .unwrap();
    let report = backend::rotation::rotate_all(&db, &both).await.unwrap();
    assert_eq!(report.resealed, 1);
    let row = legacy_exchange_setting::Entity::find()
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.password_sealed.starts_with("v1:k2:"));
    let pw = legacy::password(&db, &both, OwnerKind::Staff, sam)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pw.expose_secret(), "pw-1");
}
