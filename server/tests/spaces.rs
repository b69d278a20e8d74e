//! Spaces and space bookings through real HTTP: the public grid, booking
//! and "slot taken", cancelling (own only, unless staff), field messages
//! with nothing written, admin-only functions, and the outbox page.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::{TestApp, api_client, client, field_error, json, login, post, signed_in};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const STAFF: (&str, &str) = ("riley@calbridge.test", "calbridge-staff");
const PATRON: (&str, &str) = ("pat@calbridge.test", "calbridge-patron");
/// Seeded: open every day 08:00–20:00 London time, 30-minute slots.
const STUDY_ROOM: &str = "Group Study Room 1";

on_both_databases!(
    anyone_reads_the_grid_but_booking_needs_sign_in,
    a_patron_books_and_the_same_slot_is_then_taken,
    patrons_cancel_only_their_own_bookings,
    bad_booking_input_is_refused_next_to_its_field_and_nothing_written,
    only_admins_manage_spaces_and_read_the_outbox,
    admins_create_edit_and_retire_spaces,
);

// ----- helpers -----

async fn space_id(app: &TestApp, name: &str) -> i64 {
    let (status, body) = post(&api_client(), app, "list_spaces", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    json(&body)
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {body}"))["id"]
        .as_i64()
        .unwrap()
}

/// Three days ahead: inside the seeded 14-day window, never in the past.
fn a_future_date() -> String {
    (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(3)).to_string()
}

async fn grid(c: &reqwest::Client, app: &TestApp, space: i64, date: &str, view: &str) -> Value {
    let form = [
        ("space_id", space.to_string()),
        ("date", date.to_owned()),
        ("view", view.to_owned()),
    ];
    let (status, body) = post(c, app, "space_slots", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    json(&body)
}

async fn free_starts(app: &TestApp, space: i64, date: &str) -> Vec<String> {
    let g = grid(&api_client(), app, space, date, "day").await;
    g["days"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["free"] == true)
        .map(|s| s["starts_at"].as_str().unwrap().to_owned())
        .collect()
}

fn booking_form(
    space: i64,
    starts_at: &str,
    slots: u32,
    name: &str,
    email: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("space_id", space.to_string()),
        ("starts_at", starts_at.to_owned()),
        ("slots", slots.to_string()),
        ("patron_name", name.to_owned()),
        ("patron_email", email.to_owned()),
    ]
}

async fn outbox(app: &TestApp) -> Vec<Value> {
    let admin = signed_in(app, ADMIN).await;
    let (status, body) = post(&admin, app, "outbox_records", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    json(&body).as_array().unwrap().clone()
}

async fn active_bookings(app: &TestApp, space: i64) -> usize {
    backend::bookings::list_active(&app.backend.db, space)
        .await
        .unwrap()
        .len()
}

// ----- tests -----

async fn anyone_reads_the_grid_but_booking_needs_sign_in(app: TestApp) {
    let space = space_id(&app, STUDY_ROOM).await;
    let date = a_future_date();

    // The page itself, without JavaScript: slots and a sign-in link.
    let page = client()
        .get(app.url(&format!("/spaces/{space}?date={date}&view=day")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(STUDY_ROOM), "{html}");
    assert!(html.contains("Sign in to book"));
    assert!(html.contains("class=\"slot free\""));
    assert!(
        !html.contains("name=\"patron_name\""),
        "no form for anonymous visitors"
    );

    // Day: 24 half-hour slots, 08:00–20:00 local; week: seven days.
    let g = grid(&api_client(), &app, space, &date, "day").await;
    let slots = g["days"][0]["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 24, "{g}");
    assert_eq!(slots[0]["starts"], "08:00");
    assert!(slots.iter().all(|s| s["free"] == true));
    let week = grid(&api_client(), &app, space, &date, "week").await;
    assert_eq!(week["days"].as_array().unwrap().len(), 7);
    assert_eq!(week["view"], "week");

    let starts = &free_starts(&app, space, &date).await[0];
    let form = booking_form(space, starts, 1, "Anon", "anon@example.org");
    let (status, _) = post(&api_client(), &app, "book_space", &form).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A plain form post goes back to the page with the error in the URL.
    let referer = app.url(&format!("/spaces/{space}?date={date}"));
    let r = client()
        .post(app.url("/api/book_space"))
        .header(reqwest::header::REFERER, &referer)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()[reqwest::header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with(&referer) && location.contains("__err="),
        "{location}"
    );

    assert_eq!(active_bookings(&app, space).await, 0);
    assert!(outbox(&app).await.is_empty());
}

async fn a_patron_books_and_the_same_slot_is_then_taken(app: TestApp) {
    let space = space_id(&app, STUDY_ROOM).await;
    let date = a_future_date();
    let starts = free_starts(&app, space, &date).await[2].clone();

    // Without JavaScript: the form post redirects to the confirmation.
    let patron = client();
    login(&app, &patron, PATRON.0, PATRON.1).await;
    let form = booking_form(space, &starts, 2, "Pat Patron", "someone.else@example.org");
    let r = patron
        .post(app.url("/api/book_space"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let id: i64 = location
        .strip_prefix("/bookings?booked=")
        .unwrap_or_else(|| panic!("{location}"))
        .parse()
        .unwrap();
    let confirmation = patron.get(app.url(&location)).send().await.unwrap();
    assert_eq!(confirmation.status(), StatusCode::OK);
    let html = confirmation.text().await.unwrap();
    assert!(
        html.contains("booking-confirmation") && html.contains(STUDY_ROOM),
        "{html}"
    );
    // A patron books under their own account's email, whatever was posted.
    assert!(html.contains("pat@calbridge.test") && !html.contains("someone.else"));

    // Both slots are now unavailable, and nobody else can take them.
    let free = free_starts(&app, space, &date).await;
    assert!(!free.contains(&starts));
    let staff = signed_in(&app, STAFF).await;
    let second = booking_form(space, &starts, 1, "Other Person", "other@example.org");
    let (status, body) = post(&staff, &app, "book_space", &second).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (field, message) = field_error(&body);
    assert_eq!(field, "starts_at");
    assert!(message.contains("taken"), "{message}");

    // The patron's list has it; the outbox has exactly its one record.
    let me = signed_in(&app, PATRON).await;
    let (_, mine) = post(&me, &app, "my_bookings", &[]).await;
    let mine = json(&mine);
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["id"], id);
    assert_eq!(mine[0]["patron_email"], "pat@calbridge.test");
    let records = outbox(&app).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["kind"], "space_booking.created");
    assert_eq!(records[0]["aggregate_id"], id);

    // The admin's outbox page lists it too.
    let admin = client();
    login(&app, &admin, ADMIN.0, ADMIN.1).await;
    let page = admin.get(app.url("/admin/outbox")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("space_booking.created"), "{html}");
    assert!(html.contains(&format!("Space booking #{id}")));
}

async fn patrons_cancel_only_their_own_bookings(app: TestApp) {
    let space = space_id(&app, STUDY_ROOM).await;
    let date = a_future_date();
    let free = free_starts(&app, space, &date).await;

    // Staff book for someone else; the patron books for themselves.
    let staff = signed_in(&app, STAFF).await;
    let (status, body) = post(
        &staff,
        &app,
        "book_space",
        &booking_form(space, &free[0], 1, "Other Person", "other@example.org"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let theirs = json(&body)["id"].as_i64().unwrap();
    let patron = signed_in(&app, PATRON).await;
    let (status, body) = post(
        &patron,
        &app,
        "book_space",
        &booking_form(space, &free[4], 1, "Pat Patron", "pat@calbridge.test"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mine = json(&body)["id"].as_i64().unwrap();

    let cancel = |id: i64| vec![("booking_id", id.to_string())];
    let (status, _) = post(&patron, &app, "cancel_booking", &cancel(theirs)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &patron,
        &app,
        "booking_details",
        &[("booking_id", theirs.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(&api_client(), &app, "cancel_booking", &cancel(mine)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(active_bookings(&app, space).await, 2);

    let (status, body) = post(&patron, &app, "cancel_booking", &cancel(mine)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(&patron, &app, "cancel_booking", &cancel(mine)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("already cancelled"));

    // Staff see who booked the day, and may cancel anyone's booking.
    let day = [
        ("space_id", space.to_string()),
        ("date", date.clone()),
        ("view", "day".to_owned()),
    ];
    let (status, body) = post(&staff, &app, "space_bookings", &day).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = json(&body);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["patron_name"], "Other Person");
    let (status, _) = post(&patron, &app, "space_bookings", &day).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "patrons never see who booked"
    );
    let (status, body) = post(&staff, &app, "cancel_booking", &cancel(theirs)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    assert_eq!(active_bookings(&app, space).await, 0);
    let kinds: Vec<String> = outbox(&app)
        .await
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "space_booking.created",
            "space_booking.created",
            "space_booking.cancelled",
            "space_booking.cancelled"
        ]
    );
}

async fn bad_booking_input_is_refused_next_to_its_field_and_nothing_written(app: TestApp) {
    let space = space_id(&app, STUDY_ROOM).await;
    let date = a_future_date();
    let free = free_starts(&app, space, &date).await[0].clone();
    let staff = signed_in(&app, STAFF).await;
    let yesterday = (chrono::Utc::now() - chrono::TimeDelta::days(1))
        .format("%Y-%m-%dT10:00:00Z")
        .to_string();
    let far = (chrono::Utc::now() + chrono::TimeDelta::days(60))
        .format("%Y-%m-%dT10:00:00Z")
        .to_string();
    let off_grid = free
        .replace(":00:00Z", ":10:00Z")
        .replace(":30:00Z", ":10:00Z");
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            booking_form(space, &free, 1, "  ", "a@example.org"),
            "patron_name",
        ),
        (
            booking_form(space, &free, 1, &"x".repeat(201), "a@example.org"),
            "patron_name",
        ),
        (
            booking_form(space, &free, 1, "A Person", "not-an-email"),
            "patron_email",
        ),
        (
            booking_form(space, "tomorrow at ten", 1, "A Person", "a@example.org"),
            "starts_at",
        ),
        (
            booking_form(space, &yesterday, 1, "A Person", "a@example.org"),
            "starts_at",
        ),
        (
            booking_form(space, &far, 1, "A Person", "a@example.org"),
            "starts_at",
        ),
        (
            booking_form(space, &off_grid, 1, "A Person", "a@example.org"),
            "starts_at",
        ),
        (
            booking_form(space, &free, 0, "A Person", "a@example.org"),
            "slots",
        ),
        (
            booking_form(space, &free, 40, "A Person", "a@example.org"),
            "slots",
        ),
    ];
    for (form, expected) in &cases {
        let (status, body) = post(&staff, &app, "book_space", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        let (field, message) = field_error(&body);
        assert_eq!(&field, expected, "{form:?}: {message}");
        assert!(!message.is_empty());
    }
    // The last slot of the day cannot run past closing time.
    let last = free_starts(&app, space, &date)
        .await
        .last()
        .unwrap()
        .clone();
    let (_, body) = post(
        &staff,
        &app,
        "book_space",
        &booking_form(space, &last, 2, "A", "a@example.org"),
    )
    .await;
    assert_eq!(field_error(&body).0, "slots");

    // Without JavaScript the message comes back in the URL, for the page.
    let staff_html = client();
    login(&app, &staff_html, STAFF.0, STAFF.1).await;
    let referer = app.url(&format!("/spaces/{space}?date={date}"));
    let r = staff_html
        .post(app.url("/api/book_space"))
        .header(reqwest::header::REFERER, &referer)
        .form(&cases[2].0)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let page = staff_html
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("data-field=\"patron_email\"") && page.contains("is not an email address"),
        "{page}"
    );

    assert_eq!(active_bookings(&app, space).await, 0);
    assert!(outbox(&app).await.is_empty());
}

fn space_form(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("space_id", "0".into()),
        ("name", name.into()),
        ("location", "Annex".into()),
        ("capacity", "4".into()),
        ("time_zone", "America/New_York".into()),
        ("slot_minutes", "60".into()),
        ("booking_window_days", "7".into()),
        ("hours_0", "09:00-12:00, 13:00-17:00".into()),
        ("hours_2", "10:00-16:00".into()),
    ]
}

fn with(
    mut form: Vec<(&'static str, String)>,
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    form.retain(|(n, _)| *n != name);
    form.push((name, value.to_owned()));
    form
}

async fn only_admins_manage_spaces_and_read_the_outbox(app: TestApp) {
    let space = space_id(&app, STUDY_ROOM).await;
    let calls: [(&str, Vec<(&str, String)>); 4] = [
        ("admin_spaces", vec![]),
        ("save_space", space_form("Sneaky Room")),
        ("retire_space", vec![("space_id", space.to_string())]),
        ("outbox_records", vec![]),
    ];
    let staff = signed_in(&app, STAFF).await;
    let patron = signed_in(&app, PATRON).await;
    for (name, form) in &calls {
        let (status, _) = post(&api_client(), &app, name, form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous {name}");
        for (who, c) in [("staff", &staff), ("patron", &patron)] {
            let (status, body) = post(c, &app, name, form).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who} {name}: {body}");
        }
    }
    // Nothing changed: the two demo spaces, both bookable.
    let admin = signed_in(&app, ADMIN).await;
    let (_, body) = post(&admin, &app, "admin_spaces", &[]).await;
    let all = json(&body);
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|s| s["retired"] == false)
    );

    // The pages: sign in first, then 403 for the wrong role.
    let anonymous = client().get(app.url("/admin/outbox")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::FOUND);
    let patron_page = client();
    login(&app, &patron_page, PATRON.0, PATRON.1).await;
    for path in ["/admin/outbox", "/admin/spaces"] {
        let r = patron_page.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = patron_page.get(app.url("/bookings")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn admins_create_edit_and_retire_spaces(app: TestApp) {
    let admin = signed_in(&app, ADMIN).await;
    let before = backend::spaces::list(&app.backend.db, true)
        .await
        .unwrap()
        .len();

    // Bad input: the message names its field, and no space is written.
    let bad = [
        (with(space_form("Room"), "name", " "), "name"),
        (with(space_form("Room"), "capacity", "lots"), "capacity"),
        (with(space_form("Room"), "capacity", "0"), "capacity"),
        (
            with(space_form("Room"), "time_zone", "Mars/Olympus"),
            "time_zone",
        ),
        (
            with(space_form("Room"), "slot_minutes", "7"),
            "slot_minutes",
        ),
        (
            with(space_form("Room"), "booking_window_days", "0"),
            "booking_window_days",
        ),
        (with(space_form("Room"), "hours_3", "9 to 5"), "hours_3"),
        (with(space_form("Room"), "hours_3", "17:00-09:00"), "hours"),
        (with(space_form("Room"), "hours_3", "09:00-09:30"), "hours"),
    ];
    for (form, expected) in &bad {
        let (status, body) = post(&admin, &app, "save_space", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert_eq!(&field_error(&body).0, expected, "{body}");
    }
    assert_eq!(
        backend::spaces::list(&app.backend.db, true)
            .await
            .unwrap()
            .len(),
        before
    );

    // Create: redirected to the list with the saved space named.
    let r = admin
        .post(app.url("/api/save_space"))
        .form(&space_form("Quiet Pod"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let location = r.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let created = json(&r.text().await.unwrap());
    let id = created["id"].as_i64().unwrap();
    assert_eq!(location, format!("/admin/spaces?saved={id}"));
    assert_eq!(created["time_zone"], "America/New_York");
    assert_eq!(created["hours"].as_array().unwrap().len(), 3);
    assert_eq!(space_id(&app, "Quiet Pod").await, id);

    // Edit: new name and hours replace the old ones.
    let edit = with(
        with(space_form("Quiet Pod 2"), "space_id", &id.to_string()),
        "hours_0",
        "",
    );
    let (status, body) = post(&admin, &app, "save_space", &edit).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let space = backend::spaces::get(&app.backend.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(space.name, "Quiet Pod 2");
    assert_eq!(space.hours.len(), 1);

    // The admin page shows it, with its hours in the edit form.
    let html_admin = client();
    login(&app, &html_admin, ADMIN.0, ADMIN.1).await;
    let page = html_admin
        .get(app.url(&format!("/admin/spaces?edit={id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Quiet Pod 2") && page.contains("value=\"10:00-16:00\""),
        "{page}"
    );

    // Retire: gone from the public list and unbookable, kept for admins.
    let (status, body) = post(
        &admin,
        &app,
        "retire_space",
        &[("space_id", id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, public) = post(&api_client(), &app, "list_spaces", &[]).await;
    assert!(!public.contains("Quiet Pod"), "{public}");
    let (status, _) = post(
        &api_client(),
        &app,
        "space_slots",
        &[("space_id", id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, all) = post(&admin, &app, "admin_spaces", &[]).await;
    assert!(all.contains("Quiet Pod 2"));
}
