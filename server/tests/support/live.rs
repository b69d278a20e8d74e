//! What a browser page does with live status: hold the event stream open
//! and, on each push, read the slots again.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;

use super::{TestApp, client, json as parse, post};

/// An open event stream, read as it arrives.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    pub async fn open(c: &reqwest::Client, app: &TestApp, path: &str) -> EventStream {
        let response = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next `sync-status` event's data, or `None` after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: sync-status") {
                    let data = block
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .expect("data");
                    return Some(serde_json::from_str(data).unwrap());
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(until, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// Whether the space's slot starting `at` is free on `date`'s day grid.
pub async fn free_at(app: &TestApp, space_id: i64, date: &str, at: chrono::DateTime<Utc>) -> bool {
    let c = client();
    let grid = parse(
        &post(
            &c,
            app,
            "space_slots",
            &[
                ("space_id", space_id.to_string()),
                ("date", date.to_owned()),
            ],
        )
        .await
        .1,
    );
    let slot = grid["days"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            chrono::DateTime::parse_from_rfc3339(s["starts_at"].as_str().unwrap()).unwrap() == at
        })
        .cloned()
        .expect("the slot is on the grid");
    slot["free"].as_bool().unwrap()
}
