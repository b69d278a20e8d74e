//! `emulator`: run the Microsoft emulator as a process (for the demo and
//! the Playwright tests).

use clap::Parser;
use emulator::{DEMO, Emulator, EmulatorConfig, Seed, Settings};

#[derive(Parser, Debug)]
#[command(
    name = "emulator",
    about = "Local Microsoft identity platform + Graph calendar emulator"
)]
struct Args {
    /// Port to listen on.
    #[arg(long, default_value_t = 3900, env = "EMULATOR_PORT")]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Initial data: `demo` or `empty`.
    #[arg(long, default_value = "empty")]
    seed: String,
    /// Allow `http://` notification URLs for subscriptions (local tests
    /// only; Microsoft requires HTTPS).
    #[arg(long)]
    allow_http_notifications: bool,
    /// Seconds a new app registration answers AADSTS700016.
    #[arg(long, default_value_t = 0)]
    propagation_delay_secs: i64,
    /// Revoke a refresh token as soon as it is redeemed.
    #[arg(long)]
    strict_refresh_rotation: bool,
    /// URL clients should use, if not http://host:port.
    #[arg(long)]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let seed = match args.seed.as_str() {
        "demo" => Seed::Demo,
        "empty" | "" => Seed::Empty,
        other => {
            eprintln!("unknown seed '{other}' (use demo or empty)");
            std::process::exit(2);
        }
    };
    let config = EmulatorConfig {
        port: Some(args.port),
        host: Some(args.host),
        seed,
        public_url: args.public_url,
        settings: Settings {
            allow_http_notifications: args.allow_http_notifications,
            propagation_delay_secs: args.propagation_delay_secs,
            strict_refresh_rotation: args.strict_refresh_rotation,
            ..Settings::default()
        },
    };
    let allow_http = config.settings.allow_http_notifications;
    let handle = Emulator::start(config).await?;
    tracing::info!(url = handle.base_url(), "Microsoft emulator listening");
    if allow_http {
        tracing::warn!("accepting http:// notification URLs; Microsoft Graph requires https://");
    }
    if seed == Seed::Demo {
        tracing::info!(
            portal = %format!("{}/portal", handle.base_url()),
            admin = DEMO.it_admin.upn,
            tenant = %DEMO.tenant_id,
            "demo seed loaded (passwords in emulator/README.md)"
        );
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = handle.wait() => {}
    }
    Ok(())
}
