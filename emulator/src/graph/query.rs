//! `$filter` and `$select` on event collections (events, calendarView)
//! and on a single event.
//!
//! Microsoft Graph: "Use query parameters to customize responses" and
//! "List events" (`$filter` on `subject`, `start/dateTime`, `showAs`, …
//! with `eq`, `ne`, `gt`, `ge`, `lt`, `le`, joined by `and`; `$select`
//! returns the named properties plus `id` and `@odata.etag`). The
//! emulator supports that subset; anything else is refused with 400 so a
//! client learns early that it leans on something unsupported here.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::GraphRequest;
use super::errors::GraphError;
use crate::timezones;

/// Properties of the event resource as [`super::events::render`] writes them.
const EVENT_PROPERTIES: [&str; 39] = [
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "onlineMeeting",
];

/// Properties `$filter` can test.
const FILTERABLE: [&str; 12] = [
    "subject",
    "showAs",
    "type",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "iCalUId",
    "transactionId",
    "seriesMasterId",
    "start/dateTime",
    "end/dateTime",
];

fn query_param(req: &GraphRequest, name: &str) -> Option<String> {
    req.query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn bad_filter(detail: &str) -> GraphError {
    GraphError::bad_request("BadRequest", format!("Invalid filter clause: {detail}"))
}

/// Filter, then select, a rendered collection.
pub fn apply(req: &GraphRequest, items: Vec<Value>) -> Result<Vec<Value>, GraphError> {
    let items = match query_param(req, "$filter") {
        Some(raw) => {
            let filter = Filter::parse(&raw)?;
            items.into_iter().filter(|v| filter.matches(v)).collect()
        }
        None => items,
    };
    let fields = selected(req)?;
    Ok(items
        .into_iter()
        .map(|v| project(v, fields.as_deref()))
        .collect())
}

/// `$select` on one event.
pub fn select_one(req: &GraphRequest, v: Value) -> Result<Value, GraphError> {
    let fields = selected(req)?;
    Ok(project(v, fields.as_deref()))
}

fn selected(req: &GraphRequest) -> Result<Option<Vec<String>>, GraphError> {
    let Some(raw) = query_param(req, "$select") else {
        return Ok(None);
    };
    let mut fields = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let known = EVENT_PROPERTIES
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                GraphError::bad_request(
                    "RequestBroker--ParseUri",
                    format!(
                        "Could not find a property named '{name}' on type 'microsoft.graph.event'."
                    ),
                )
            })?;
        fields.push(known.to_string());
    }
    Ok(Some(fields))
}

/// Keep the selected properties, `id`, and the annotations (`@odata.*`,
/// `@removed`), which Graph always sends.
fn project(v: Value, fields: Option<&[String]>) -> Value {
    let (Some(fields), Value::Object(obj)) = (fields, &v) else {
        return v;
    };
    let kept: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| k.starts_with('@') || k.as_str() == "id" || fields.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Self::Eq => ord == Equal,
            Self::Ne => ord != Equal,
            Self::Gt => ord == Greater,
            Self::Ge => ord != Less,
            Self::Lt => ord == Less,
            Self::Le => ord != Greater,
        }
    }
}

#[derive(Debug, Clone)]
enum Literal {
    Text(String),
    Bool(bool),
    Null,
    Time(DateTime<Utc>),
}

#[derive(Debug, Clone)]
struct Condition {
    property: String,
    op: Op,
    value: Literal,
}

/// Conditions joined by `and`.
#[derive(Debug, Clone)]
struct Filter(Vec<Condition>);

impl Filter {
    fn parse(raw: &str) -> Result<Self, GraphError> {
        let tokens = tokenize(raw)?;
        let mut conditions = Vec::new();
        let mut rest = tokens.as_slice();
        loop {
            let [Token::Word(property), Token::Word(op), value, tail @ ..] = rest else {
                return Err(bad_filter(raw));
            };
            let property = FILTERABLE
                .iter()
                .find(|p| p.eq_ignore_ascii_case(property))
                .ok_or_else(|| bad_filter(&format!("'{property}' cannot be filtered on.")))?
                .to_string();
            let op =
                Op::parse(op).ok_or_else(|| bad_filter(&format!("unknown operator '{op}'.")))?;
            let value = literal(&property, value)?;
            conditions.push(Condition {
                property,
                op,
                value,
            });
            match tail {
                [] => return Ok(Self(conditions)),
                [Token::Word(and), more @ ..] if and.eq_ignore_ascii_case("and") => rest = more,
                _ => return Err(bad_filter("only 'and' can join conditions here.")),
            }
        }
    }

    fn matches(&self, v: &Value) -> bool {
        self.0.iter().all(|c| c.matches(v))
    }
}

impl Condition {
    fn matches(&self, v: &Value) -> bool {
        let ord = match (&self.value, self.property.split_once('/')) {
            (Literal::Time(t), Some((side, _))) => {
                let dt = v[side]["dateTime"].as_str().unwrap_or("");
                let zone = v[side]["timeZone"].as_str().unwrap_or("UTC");
                match timezones::to_utc(dt, zone) {
                    Ok(actual) => actual.cmp(t),
                    Err(_) => return false,
                }
            }
            (Literal::Text(want), _) => match v[&self.property].as_str() {
                Some(actual) => actual.to_lowercase().cmp(&want.to_lowercase()),
                None => return self.op == Op::Ne,
            },
            (Literal::Bool(want), _) => match v[&self.property].as_bool() {
                Some(actual) => actual.cmp(want),
                None => return false,
            },
            (Literal::Null, _) => {
                let is_null = v[&self.property].is_null();
                return match self.op {
                    Op::Eq => is_null,
                    Op::Ne => !is_null,
                    _ => false,
                };
            }
            _ => return false,
        };
        self.op.holds(ord)
    }
}

fn literal(property: &str, token: &Token) -> Result<Literal, GraphError> {
    let is_time = property.ends_with("/dateTime");
    let text = match token {
        Token::Quoted(s) => s.clone(),
        Token::Word(w) if w.eq_ignore_ascii_case("true") => return Ok(Literal::Bool(true)),
        Token::Word(w) if w.eq_ignore_ascii_case("false") => return Ok(Literal::Bool(false)),
        Token::Word(w) if w.eq_ignore_ascii_case("null") => return Ok(Literal::Null),
        // OData allows an unquoted DateTimeOffset.
        Token::Word(w) if is_time => w.clone(),
        Token::Word(w) => return Err(bad_filter(&format!("'{w}' is not a literal."))),
    };
    if !is_time {
        return Ok(Literal::Text(text));
    }
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| timezones::parse_naive(&text).map(|n| n.and_utc()))
        .map(Literal::Time)
        .ok_or_else(|| bad_filter(&format!("'{text}' is not a date and time.")))
}

#[derive(Debug, Clone)]
enum Token {
    Word(String),
    Quoted(String),
}

fn tokenize(raw: &str) -> Result<Vec<Token>, GraphError> {
    let mut out = Vec::new();
    let mut chars = raw.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    // '' is an escaped quote inside a string literal.
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        s.push('\'');
                    }
                    Some('\'') => break,
                    Some(ch) => s.push(ch),
                    None => return Err(bad_filter("unterminated string literal.")),
                }
            }
            out.push(Token::Quoted(s));
        } else if c == '(' || c == ')' {
            return Err(bad_filter(
                "parentheses and functions are not supported here.",
            ));
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '\'' || ch == '(' || ch == ')' {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            out.push(Token::Word(s));
        }
    }
    Ok(out)
}
