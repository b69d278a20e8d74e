//! Appointments, staff settings and legacy Exchange settings through real
//! HTTP on both databases: role checks, booking and "time taken", field
//! messages with nothing written, the admin switch, the write-only legacy
//! password, and the `calbridge legacy import` command.

mod support;

use backend::entities::{appointment, legacy_exchange_setting, outbox};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use support::{TestApp, api_client, client, field_error, json, login, post, signed_in};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const SAM: (&str, &str) = ("sam@calbridge.test", "calbridge-staff");
const RILEY: (&str, &str) = ("riley@calbridge.test", "calbridge-staff");
const PATRON: (&str, &str) = ("pat@calbridge.test", "calbridge-patron");

on_both_databases!(
    every_function_checks_the_role,
    admin_switch_decides_who_patrons_see,
    a_patron_books_and_a_second_account_cannot_take_the_time,
    bad_input_is_refused_next_to_its_field_and_nothing_written,
    staff_save_settings_and_reschedule,
    legacy_password_is_write_only_and_admin_only,
    legacy_csv_import_command,
);

// ----- helpers -----

type Form = Vec<(&'static str, String)>;

async fn user_id(app: &TestApp, email: &str) -> i64 {
    let c = signed_in(app, ADMIN).await;
    let (status, body) = post(&c, app, "staff_accounts", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    json(&body)
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == email)
        .unwrap_or_else(|| panic!("{email} in {body}"))["user_id"]
        .as_i64()
        .unwrap()
}

/// Open times of a staff member on the first of the next 7 days that has any.
async fn open_times(app: &TestApp, staff_id: i64) -> Vec<String> {
    for ahead in 1..8 {
        let date = (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(ahead)).to_string();
        let form = [("staff_id", staff_id.to_string()), ("date", date)];
        let (status, body) = post(&api_client(), app, "appointment_times", &form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let slots: Vec<String> = json(&body)["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["starts_at"].as_str().unwrap().to_owned())
            .collect();
        if !slots.is_empty() {
            return slots;
        }
    }
    panic!("no open times in the next week");
}

fn booking(staff_id: i64, starts_at: &str, question: &str) -> Vec<(&'static str, String)> {
    vec![
        ("staff_id", staff_id.to_string()),
        ("starts_at", starts_at.to_owned()),
        ("patron_name", "Pat Patron".to_owned()),
        ("patron_email", "pat@calbridge.test".to_owned()),
        ("question", question.to_owned()),
    ]
}

async fn counts(app: &TestApp) -> (u64, u64) {
    let db = &app.backend.db;
    (
        appointment::Entity::find().count(db).await.unwrap(),
        outbox::Entity::find().count(db).await.unwrap(),
    )
}

// ----- tests -----

async fn every_function_checks_the_role(app: TestApp) {
    let anonymous = api_client();
    let patron = signed_in(&app, PATRON).await;
    let staff = signed_in(&app, RILEY).await;
    let space_form = || {
        vec![
            ("owner_kind", "space".to_owned()),
            ("owner_id", "1".to_owned()),
        ]
    };
    let cases: Vec<(&reqwest::Client, &str, Form, StatusCode)> = vec![
        (
            &anonymous,
            "my_appointments",
            vec![],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &anonymous,
            "book_appointment",
            booking(1, "2030-01-01T10:00:00Z", ""),
            StatusCode::UNAUTHORIZED,
        ),
        (
            &anonymous,
            "my_staff_settings",
            vec![],
            StatusCode::UNAUTHORIZED,
        ),
        (&patron, "staff_appointments", vec![], StatusCode::FORBIDDEN),
        (&patron, "my_staff_settings", vec![], StatusCode::FORBIDDEN),
        (
            &patron,
            "add_day_off",
            vec![("day", "2030-01-01".into())],
            StatusCode::FORBIDDEN,
        ),
        (
            &patron,
            "legacy_exchange",
            vec![("owner_kind", "staff".into())],
            StatusCode::FORBIDDEN,
        ),
        (&staff, "staff_accounts", vec![], StatusCode::FORBIDDEN),
        (
            &staff,
            "set_staff_appointments",
            vec![("user_id", "2".into()), ("enabled", "true".into())],
            StatusCode::FORBIDDEN,
        ),
        (
            &staff,
            "legacy_exchange",
            space_form(),
            StatusCode::FORBIDDEN,
        ),
        (
            &staff,
            "save_legacy_exchange",
            vec![
                ("owner_kind", "staff".into()),
                ("server_url", "https://x.org".into()),
                ("account", "a".into()),
                ("password", "p".into()),
            ],
            StatusCode::FORBIDDEN,
        ),
        (
            &staff,
            "clear_legacy_exchange",
            vec![("owner_kind", "staff".into())],
            StatusCode::FORBIDDEN,
        ),
    ];
    for (c, name, form, expected) in cases {
        let (status, body) = post(c, &app, name, &form).await;
        assert_eq!(status, expected, "{name}: {body}");
    }
    // Staff may read their own legacy settings (none yet).
    let (status, body) = post(
        &staff,
        &app,
        "legacy_exchange",
        &[("owner_kind", "staff".into())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["editable"], false);
    assert!(
        json(&body)["note"]
            .as_str()
            .unwrap()
            .contains("1 October 2022")
    );
    // Guarded pages: sign in first, 403 for the wrong role.
    let (page, _) = (client(), ());
    let r = page
        .get(app.url("/staff/appointments"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let browser = client();
    login(&app, &browser, PATRON.0, PATRON.1).await;
    let r = browser.get(app.url("/admin/staff")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(counts(&app).await, (0, 0));
}

async fn admin_switch_decides_who_patrons_see(app: TestApp) {
    let sam = user_id(&app, SAM.0).await;
    let riley = user_id(&app, RILEY.0).await;
    let listed = |body: &str| -> Vec<i64> {
        json(body)
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["user_id"].as_i64().unwrap())
            .collect()
    };
    // The seed switches Sam on.
    let (_, body) = post(&api_client(), &app, "appointment_staff", &[]).await;
    assert_eq!(listed(&body), [sam]);
    // Admin, as a browser without JavaScript: the form post redirects back.
    let browser = client();
    login(&app, &browser, ADMIN.0, ADMIN.1).await;
    let r = browser
        .post(app.url("/api/set_staff_appointments"))
        .header("referer", app.url("/admin/staff"))
        .form(&[("user_id", riley.to_string()), ("enabled", "true".into())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let admin = signed_in(&app, ADMIN).await;
    post(
        &admin,
        &app,
        "set_staff_appointments",
        &[("user_id", sam.to_string()), ("enabled", "false".into())],
    )
    .await;
    let (_, body) = post(&api_client(), &app, "appointment_staff", &[]).await;
    assert_eq!(listed(&body), [riley]);
    // A patron account cannot be switched on.
    let pat = backend::accounts::authenticate(&app.backend.db, PATRON.0, PATRON.1)
        .await
        .unwrap()
        .unwrap();
    let (status, body) = post(
        &admin,
        &app,
        "set_staff_appointments",
        &[("user_id", pat.id.to_string()), ("enabled", "true".into())],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let html = browser
        .get(app.url("/admin/staff"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("riley@calbridge.test") && html.contains("Turn off"),
        "{html}"
    );
}

async fn a_patron_books_and_a_second_account_cannot_take_the_time(app: TestApp) {
    let sam = user_id(&app, SAM.0).await;
    let slots = open_times(&app, sam).await;
    let patron = signed_in(&app, PATRON).await;
    let (status, body) = post(
        &patron,
        &app,
        "book_appointment",
        &booking(sam, &slots[0], "Citation help"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let booked = json(&body);
    assert_eq!(booked["staff_name"], "Sam Reference");
    let id = booked["id"].as_i64().unwrap();
    let jobs = backend::outbox::list_pending(&app.backend.db, 10)
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.kind == "appointment.created" && j.aggregate_id == id),
        "{jobs:?}"
    );

    // Another account, same time: refused next to the time field.
    backend::accounts::create_user(
        &app.backend.db,
        backend::accounts::NewUser {
            email: "kim@calbridge.test",
            display_name: "Kim",
            role: backend::accounts::Role::Patron,
            password: "calbridge-patron-2",
        },
    )
    .await
    .unwrap();
    let kim = signed_in(&app, ("kim@calbridge.test", "calbridge-patron-2")).await;
    let (status, body) = post(&kim, &app, "book_appointment", &booking(sam, &slots[0], "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (field, message) = field_error(&body);
    assert_eq!(field, "starts_at");
    assert!(message.contains("taken"), "{message}");
    assert!(!open_times(&app, sam).await.contains(&slots[0]));
    // Kim cannot cancel Pat's appointment; Pat can.
    let (status, _) = post(
        &kim,
        &app,
        "cancel_appointment",
        &[("appointment_id", id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, mine) = post(&patron, &app, "my_appointments", &[]).await;
    assert_eq!(json(&mine).as_array().unwrap().len(), 1);
    let (status, body) = post(
        &patron,
        &app,
        "cancel_appointment",
        &[("appointment_id", id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(counts(&app).await, (1, 2));
    // Without JavaScript, booking redirects to the confirmation.
    let browser = client();
    login(&app, &browser, PATRON.0, PATRON.1).await;
    let r = browser
        .post(app.url("/api/book_appointment"))
        .form(&booking(sam, &slots[0], ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/appointments/mine?booked="), "{to}");
    let html = browser
        .get(app.url(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Booked:") && html.contains("Sam Reference"),
        "{html}"
    );
}

async fn bad_input_is_refused_next_to_its_field_and_nothing_written(app: TestApp) {
    let sam = user_id(&app, SAM.0).await;
    let slot = open_times(&app, sam).await.remove(0);
    let patron = signed_in(&app, PATRON).await;
    let long = "x".repeat(2001);
    let cases = [
        (booking(sam, &slot, &long), "question"),
        (booking(sam, "not a time", ""), "starts_at"),
        (booking(sam, "2020-01-01T10:00:00Z", ""), "starts_at"),
        (
            {
                let mut f = booking(sam, &slot, "");
                f.retain(|(n, _)| *n != "patron_email");
                f.push(("patron_email", "nobody".into()));
                f
            },
            "patron_email",
        ),
    ];
    for (form, expected) in cases {
        let (status, body) = post(&patron, &app, "book_appointment", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(field_error(&body).0, expected, "{body}");
    }
    let staff = signed_in(&app, SAM).await;
    let settings = [
        ("appointment_minutes", "7".to_owned()),
        ("location_kind", "in_person".into()),
        ("time_zone", "Europe/London".into()),
        ("booking_window_days", "30".into()),
        ("hours_0", "09:00-12:00".into()),
    ];
    let (status, body) = post(&staff, &app, "save_staff_settings", &settings).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_error(&body).0, "appointment_minutes");
    let mut bad_hours = settings.to_vec();
    bad_hours[0].1 = "30".into();
    bad_hours[4].1 = "9 to 5".into();
    let (_, body) = post(&staff, &app, "save_staff_settings", &bad_hours).await;
    assert_eq!(field_error(&body).0, "hours");
    let (status, body) = post(&staff, &app, "add_day_off", &[("day", "2001-01-01".into())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_error(&body).0, "day");
    // Nothing changed: the seeded settings and no appointment or job.
    let (_, body) = post(&staff, &app, "my_staff_settings", &[]).await;
    let s = json(&body);
    assert_eq!(s["appointment_minutes"], 30);
    assert_eq!(s["hours"][0], "09:00-17:00");
    assert!(s["days_off"].as_array().unwrap().is_empty());
    assert_eq!(counts(&app).await, (0, 0));
    // Without JavaScript the error comes back in the URL for the page.
    let browser = client();
    login(&app, &browser, PATRON.0, PATRON.1).await;
    let r = browser
        .post(app.url("/api/book_appointment"))
        .header(
            "referer",
            app.url(&format!("/appointments?staff={sam}&date={}", &slot[..10])),
        )
        .form(&booking(sam, &slot, &long))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let html = browser.get(&to).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("The question may have at most 2000 characters."),
        "{html}"
    );
}

async fn staff_save_settings_and_reschedule(app: TestApp) {
    let sam = user_id(&app, SAM.0).await;
    let staff = signed_in(&app, SAM).await;
    let form = [
        ("appointment_minutes", "60".to_owned()),
        ("location_kind", "online".into()),
        ("location", "https://meet.example.org/sam".into()),
        ("time_zone", "Europe/London".into()),
        ("booking_window_days", "21".into()),
        ("hours_0", "09:00-12:00, 13:00-17:00".into()),
        ("hours_1", "09:00-17:00".into()),
        ("hours_2", "09:00-17:00".into()),
        ("hours_3", "09:00-17:00".into()),
        ("hours_4", "09:00-17:00".into()),
    ];
    let (status, body) = post(&staff, &app, "save_staff_settings", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["hours"][0], "09:00-12:00, 13:00-17:00");
    let slots = open_times(&app, sam).await;
    let patron = signed_in(&app, PATRON).await;
    let (_, body) = post(
        &patron,
        &app,
        "book_appointment",
        &booking(sam, &slots[0], ""),
    )
    .await;
    let id = json(&body)["id"].as_i64().unwrap();
    assert_eq!(
        json(&body)["location"],
        "Online: https://meet.example.org/sam"
    );
    // Patrons cannot reschedule; staff move it one slot later (local time).
    let (status, _) = post(
        &patron,
        &app,
        "reschedule_appointment",
        &[
            ("appointment_id", id.to_string()),
            ("starts_at", "2030-01-01T10:00".into()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = post(&staff, &app, "staff_appointments", &[]).await;
    let local = json(&list)[0]["local_start"].as_str().unwrap().to_owned();
    let later = chrono::NaiveDateTime::parse_from_str(&local, "%Y-%m-%dT%H:%M").unwrap()
        + chrono::TimeDelta::hours(1);
    let (status, body) = post(
        &staff,
        &app,
        "reschedule_appointment",
        &[
            ("appointment_id", id.to_string()),
            ("starts_at", later.format("%Y-%m-%dT%H:%M").to_string()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body)["local_start"],
        later.format("%Y-%m-%dT%H:%M").to_string()
    );
    let (status, body) = post(
        &staff,
        &app,
        "reschedule_appointment",
        &[
            ("appointment_id", id.to_string()),
            ("starts_at", "2001-01-01T10:00".into()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_error(&body).0, "starts_at");
    let kinds: Vec<String> = backend::outbox::list_pending(&app.backend.db, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.kind)
        .collect();
    assert_eq!(kinds, ["appointment.created", "appointment.moved"]);
    // Days off: add, then remove.
    let day = (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(9)).to_string();
    let (status, body) = post(
        &staff,
        &app,
        "add_day_off",
        &[("day", day.clone()), ("note", "Training".into())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["days_off"][0]["day"], day);
    let (_, body) = post(&staff, &app, "remove_day_off", &[("day", day)]).await;
    assert!(json(&body)["days_off"].as_array().unwrap().is_empty());
}

async fn legacy_password_is_write_only_and_admin_only(app: TestApp) {
    let riley = user_id(&app, RILEY.0).await;
    let browser = client();
    login(&app, &browser, ADMIN.0, ADMIN.1).await;
    let page = format!("/admin/staff/{riley}/sync");
    let form = |password: &str| {
        vec![
            ("owner_kind", "staff".to_owned()),
            ("owner_id", riley.to_string()),
            (
                "server_url",
                "https://mail.example.org/EWS/Exchange.asmx".into(),
            ),
            ("account", "riley@example.org".into()),
            ("password", password.to_owned()),
        ]
    };
    // A bad URL: the field message, nothing stored.
    let admin = signed_in(&app, ADMIN).await;
    let mut bad = form("pw");
    bad[2].1 = "mail.example.org".into();
    let (status, body) = post(&admin, &app, "save_legacy_exchange", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_error(&body).0, "server_url");
    assert_eq!(
        legacy_exchange_setting::Entity::find()
            .count(&app.backend.db)
            .await
            .unwrap(),
        0
    );
    // Saved as a browser without JavaScript would.
    let r = browser
        .post(app.url("/api/save_legacy_exchange"))
        .header("referer", app.url(&page))
        .form(&form("Very-Secret-Pw-1"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let html = browser
        .get(app.url(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("password saved"), "{html}");
    assert!(html.contains("Legacy") && html.contains("1 October 2022"));
    assert!(!html.contains("Very-Secret-Pw-1"));
    let (_, body) = post(
        &admin,
        &app,
        "legacy_exchange",
        &[
            ("owner_kind", "staff".into()),
            ("owner_id", riley.to_string()),
        ],
    )
    .await;
    assert!(!body.contains("Very-Secret-Pw-1"));
    assert_eq!(json(&body)["settings"]["password_saved"], true);
    // Riley sees their own, read-only, on /staff/sync.
    let riley_browser = client();
    login(&app, &riley_browser, RILEY.0, RILEY.1).await;
    let html = riley_browser
        .get(app.url("/staff/sync"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("riley@example.org") && html.contains("password saved"),
        "{html}"
    );
    assert!(!html.contains("Clear legacy settings"));
    let row = legacy_exchange_setting::Entity::find()
        .one(&app.backend.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.password_sealed.contains("Very-Secret"));
    // Clear.
    let (status, body) = post(
        &admin,
        &app,
        "clear_legacy_exchange",
        &[
            ("owner_kind", "staff".into()),
            ("owner_id", riley.to_string()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(json(&body)["settings"].is_null());
}

async fn legacy_csv_import_command(app: TestApp) {
    let dir = app.data_dir();
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_calbridge"))
            .args(["legacy", "import"])
            .arg(file)
            .env("CALBRIDGE_DATABASE_URL", &app.database_url)
            .env("CALBRIDGE_DATA_DIR", dir)
            .env("CALBRIDGE_CONFIG", dir.join("none.toml"))
            .output()
            .unwrap()
    };
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "owner_kind,owner,server_url,account,password\n\
         staff,sam@calbridge.test,https://ex.example.org/ews,sam,pw\n\
         staff,pat@calbridge.test,https://ex.example.org/ews,pat,pw\n",
    )
    .unwrap();
    let out = run(&bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 3: pat@calbridge.test is not a staff account"),
        "{stderr}"
    );
    assert_eq!(
        legacy_exchange_setting::Entity::find()
            .count(&app.backend.db)
            .await
            .unwrap(),
        0
    );

    let good = dir.join("good.csv");
    std::fs::write(
        &good,
        "owner_kind,owner,server_url,account,password\n\
         staff,sam@calbridge.test,https://ex.example.org/ews,sam@ex.example.org,pw-1\n\
         staff,riley@calbridge.test,https://ex.example.org/ews,riley@ex.example.org,pw-2\n",
    )
    .unwrap();
    let out = run(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2"));
    let sam = user_id(&app, SAM.0).await;
    let pw = backend::legacy::password(
        &app.backend.db,
        &app.backend.vault,
        backend::legacy::OwnerKind::Staff,
        sam,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&pw), "pw-1");
}
