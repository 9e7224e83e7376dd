use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = vitrine_api::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vitrine: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(vitrine_api::cli::run(cli))
}
