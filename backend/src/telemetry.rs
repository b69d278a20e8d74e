//! Prometheus metrics, served as text on `GET /metrics`.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub login_attempts: Family<LoginLabels, Counter>,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("calbridge");
    let http_requests = Family::<HttpLabels, Counter>::default();
    registry.register(
        "http_requests",
        "HTTP requests answered",
        http_requests.clone(),
    );
    let login_attempts = Family::<LoginLabels, Counter>::default();
    registry.register(
        "login_attempts",
        "Sign-in attempts by outcome (success, failure, throttled)",
        login_attempts.clone(),
    );
    Metrics {
        registry,
        http_requests,
        login_attempts,
    }
});

pub fn record_login(outcome: &'static str) {
    METRICS
        .login_attempts
        .get_or_create(&LoginLabels { outcome })
        .inc();
}

pub fn record_http(method: &str, status: u16) {
    METRICS
        .http_requests
        .get_or_create(&HttpLabels {
            method: method.to_owned(),
            status,
        })
        .inc();
}

/// The OpenMetrics text exposition of every metric.
pub fn render() -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &METRICS.registry)
        .expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_up_in_the_text_exposition() {
        record_login("failure");
        record_login("failure");
        record_http("GET", 404);
        let text = render();
        assert!(
            text.contains("calbridge_login_attempts_total{outcome=\"failure\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("calbridge_http_requests_total{method=\"GET\",status=\"404\"} 1"),
            "{text}"
        );
    }
}
