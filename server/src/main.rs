use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::telemetry::init();
    let cli = server::cli::Cli::parse();
    match server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("calbridge: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
