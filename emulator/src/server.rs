//! Binding, routing and the connection loop. The loop is hand-rolled on
//! hyper (rather than `axum::serve`) so that a fault can drop a connection
//! without any answer, as a reset or a dead load balancer would.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::{EmulatorConfig, EmulatorHandle, Seed, Shared, clock::Clock, faults::Faults};

/// Put into a response's extensions to have the connection closed
/// instead of answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

pub async fn start(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
    let host = config.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let listener = TcpListener::bind((host.as_str(), config.port.unwrap_or(0))).await?;
    let addr = listener.local_addr()?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", display_addr(&host, addr)));
    let shared = Arc::new(Shared {
        world: Mutex::new(Default::default()),
        settings: Mutex::new(config.settings.clone()),
        clock: Clock::default(),
        faults: Faults::default(),
        log: Mutex::new(Vec::new()),
        base_url: base_url.trim_end_matches('/').to_string(),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("reqwest client"),
        outbox_ready: tokio::sync::Notify::new(),
        deliveries: Mutex::new(Vec::new()),
    });
    if config.seed == Seed::Demo {
        crate::seed::demo(&shared);
    }
    let router = routes(shared.clone());
    // One task for both loops, so dropping the handle stops both.
    let delivery = crate::graph::subscriptions::delivery_loop(shared.clone());
    let task = tokio::spawn(async move {
        tokio::join!(accept_loop(listener, router), delivery);
    });
    Ok(EmulatorHandle::new(shared, addr, task))
}

fn display_addr(host: &str, addr: SocketAddr) -> String {
    if host == "0.0.0.0" {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

pub fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(crate::identity::routes(shared.clone()))
        .merge(crate::portal::routes())
        .merge(crate::graph::routes())
        .merge(crate::control::routes())
        .with_state(shared)
}

async fn accept_loop(listener: TcpListener, router: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let router = router.clone();
                async move {
                    let resp = router
                        .oneshot(req.map(Body::new))
                        .await
                        .unwrap_or_else(|e| match e {});
                    if resp.extensions().get::<DropConnection>().is_some() {
                        // An error from the service makes hyper close the
                        // connection without writing a response.
                        return Err(std::io::Error::other("fault: connection dropped"));
                    }
                    Ok(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
