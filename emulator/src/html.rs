//! Server-rendered pages in a plain Microsoft look. No JavaScript: every
//! step is an HTML form, so any browser (and Playwright) can walk it.

use axum::response::Html;

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}\
.card{background:#fff;max-width:440px;margin:60px auto;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
.wide{max-width:960px}\
h1{font-size:24px;font-weight:600;margin:0 0 16px}\
label{display:block;margin:12px 0 4px}\
input[type=text],input[type=email],input[type=password],input[type=url],input[type=date],select{width:100%;padding:6px;box-sizing:border-box}\
button,.button{background:#0067b8;color:#fff;border:0;padding:8px 20px;margin:16px 8px 0 0;cursor:pointer;text-decoration:none;display:inline-block}\
button.secondary{background:#ccc;color:#000}\
.error{color:#e81123;margin:8px 0}\
.brand{color:#737373;font-size:15px;margin-bottom:16px}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:6px;text-align:left}\
nav a{margin-right:16px}code{background:#eee;padding:2px 4px}";

/// A sign-in style page (narrow card).
pub fn page(title: &str, body: &str) -> Html<String> {
    layout(title, "card", body)
}

/// A portal style page (wide card).
pub fn wide_page(title: &str, body: &str) -> Html<String> {
    layout(title, "card wide", body)
}

fn layout(title: &str, class: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body><div class=\"{class}\">\
         <div class=\"brand\">Microsoft (emulated)</div>{body}</div></body></html>",
        esc(title)
    ))
}

/// A hidden form field.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}
