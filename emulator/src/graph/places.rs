//! `GET /places/microsoft.graph.room`. Microsoft Graph: "List places":
//! needs `Place.Read.All` (delegated work or school, or application);
//! personal Microsoft accounts are not supported.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::Method;
use serde_json::{Value, json};

use super::auth::{Caller, Principal};
use super::errors::GraphError;
use super::{GraphRequest, method_not_allowed};
use crate::AppState;
use crate::state::AccountKind;

pub fn rooms(s: &AppState, req: &GraphRequest, p: &Principal) -> Result<Response, GraphError> {
    if req.method != Method::GET {
        return Err(method_not_allowed());
    }
    if p.is_personal() || !p.has_any(&["Place.Read.All"]) {
        return Err(GraphError::access_denied());
    }
    let tenant = match &p.caller {
        Caller::Delegated(u) => u.tenant_id,
        Caller::App { tenant, .. } => *tenant,
    };
    let world = s.world.lock();
    let mut rooms: Vec<_> = world
        .users
        .values()
        .filter(|u| u.kind == AccountKind::Room && u.tenant_id == tenant)
        .collect();
    rooms.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    let value: Vec<Value> = rooms
        .into_iter()
        .map(|u| {
            let r = u.room.as_ref();
            json!({
                "id": u.id,
                "displayName": u.display_name,
                "emailAddress": u.upn,
                "capacity": r.map(|r| r.capacity),
                "building": r.and_then(|r| r.building.clone()),
                "bookingType": "standard",
                "isWheelChairAccessible": false,
                "nickname": u.display_name,
                "label": null,
                "tags": [],
                "phone": null,
                "floorNumber": null,
                "address": null,
                "geoCoordinates": null,
            })
        })
        .collect();
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#places/microsoft.graph.room", s.base_url),
        "value": value,
    }))
    .into_response())
}
