//! A space's Exchange room over real HTTP: an admin starts the
//! authorization at Calbridge, signs in at the emulator as the rooms'
//! delegate, comes back through the shared Redirect URL, picks a room
//! (refused plainly when it does not exist) and revokes; staff, patrons
//! and strangers are refused at every step.

mod support;

use reqwest::StatusCode;
use support::rooms::{FRAN, SEMINAR, at_microsoft, location, set_up};
use support::{TestApp, api_client, client, login};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const STAFF: (&str, &str) = ("sam@calbridge.test", "calbridge-staff");
const PATRON: (&str, &str) = ("pat@calbridge.test", "calbridge-patron");

on_both_databases!(
    an_admin_authorizes_picks_a_room_and_revokes,
    only_admins_may_connect_pick_or_revoke,
);

async fn call(
    app: &TestApp,
    c: &reqwest::Client,
    name: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    c.post(app.url(&format!("/api/{name}")))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn an_admin_authorizes_picks_a_room_and_revokes(app: TestApp) {
    let space_id = set_up(&app).await;
    let id = space_id.to_string();
    let browser = client();
    login(&app, &browser, ADMIN.0, ADMIN.1).await;
    let r = browser
        .post(app.url("/oauth/microsoft/connect-room"))
        .form(&[("space_id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let authorize = location(&r);
    assert!(
        authorize.contains("Calendars.ReadWrite.Shared"),
        "{authorize}"
    );
    assert!(authorize.contains("Place.Read.All"), "{authorize}");
    let redirect = at_microsoft(&app, &authorize, FRAN).await;
    // Microsoft redirects to the registered URL; the test server has its
    // own port.
    let query = redirect.split_once('?').expect("a query").1;
    let back = app.url(&format!("/oauth/microsoft/callback?{query}"));
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(
        location(&r),
        format!("/admin/spaces/{space_id}/sync?authorized=1")
    );
    // The callback cannot be used twice.
    let again = browser.get(&back).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    let api = api_client();
    login(&app, &api, ADMIN.0, ADMIN.1).await;
    let view: serde_json::Value = call(&app, &api, "room_connection", &[("space_id", &id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["account"], FRAN.0);
    assert_eq!(view["status"], "active");
    assert!(view["room_address"].is_null());
    let text = view.to_string();
    assert!(!text.contains("token"), "{text}");

    let rooms: serde_json::Value = call(&app, &api, "room_directory", &[("space_id", &id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rooms.as_array().unwrap().len(), 3, "{rooms}");

    let missing = call(
        &app,
        &api,
        "pick_room",
        &[
            ("space_id", &id),
            (
                "typed_address",
                "room.nowhere@contoso-library.onmicrosoft.com",
            ),
        ],
    )
    .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let body = missing.text().await.unwrap();
    assert!(body.contains("no room mailbox"), "{body}");

    let picked = call(
        &app,
        &api,
        "pick_room",
        &[("space_id", &id), ("address", SEMINAR)],
    )
    .await;
    assert_eq!(picked.status(), StatusCode::OK, "{:?}", picked.text().await);
    let view: serde_json::Value = call(&app, &api, "room_connection", &[("space_id", &id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["room_address"], SEMINAR);
    assert_eq!(view["room_name"], "Seminar Room");

    let revoked = call(&app, &api, "revoke_room", &[("space_id", &id)]).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let row = backend::connections::find(&app.backend.db, backend::rooms::space_owner(space_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "revoked");
    assert!(row.refresh_token_sealed.is_none());
}

async fn only_admins_may_connect_pick_or_revoke(app: TestApp) {
    let space_id = set_up(&app).await;
    let id = space_id.to_string();
    for who in [Some(STAFF), Some(PATRON), None] {
        let browser = client();
        let api = api_client();
        if let Some((email, password)) = who {
            login(&app, &browser, email, password).await;
            login(&app, &api, email, password).await;
        }
        let r = browser
            .post(app.url("/oauth/microsoft/connect-room"))
            .form(&[("space_id", id.as_str())])
            .send()
            .await
            .unwrap();
        match who {
            Some(_) => assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who:?}"),
            None => assert!(location(&r).starts_with("/login"), "{who:?}"),
        }
        for (name, form) in [
            ("room_connection", vec![("space_id", id.as_str())]),
            ("room_directory", vec![("space_id", id.as_str())]),
            (
                "pick_room",
                vec![("space_id", id.as_str()), ("address", SEMINAR)],
            ),
            ("revoke_room", vec![("space_id", id.as_str())]),
        ] {
            let r = call(&app, &api, name, &form).await;
            let expected = if who.is_some() {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(r.status(), expected, "{name} as {who:?}");
        }
    }
    assert!(
        backend::connections::find(&app.backend.db, backend::rooms::space_owner(space_id))
            .await
            .unwrap()
            .is_none()
    );
}
