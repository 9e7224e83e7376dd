//! The `vitrine` command line.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use vitrine_entity::audit_chain::VerifyReport;
use vitrine_entity::policy::Actor;
use vitrine_entity::{Role, SystemClock, UserKind};

use crate::config::Config;
use crate::services::users::{self, NewUser};
use crate::state::RequestMeta;

#[derive(Debug, Parser)]
#[command(
    name = "vitrine",
    version,
    about = "Secure digital asset management backend"
)]
pub struct Cli {
    /// A TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "VITRINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data directory (database file, job queue, secret key, blobs):
    /// every subcommand must be given the one `serve` uses.
    #[arg(long, global = true, env = "VITRINE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API (and, without Redis, the workers) until SIGINT or SIGTERM.
    Serve,
    /// Run the workers only (production, with Redis).
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// User administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// License tools.
    Licenses {
        #[command(subcommand)]
        command: LicensesCommand,
    },
    /// Usage statistics tools.
    Usage {
        #[command(subcommand)]
        command: UsageCommand,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Roll the audit log's usage events up into the statistics now (what
    /// the scheduled job does every 10 seconds) and print what it did as JSON.
    Rollup {
        /// Stop after this many batches (a partial rollup resumes at the
        /// watermark next time).
        #[arg(long)]
        max_batches: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LicensesCommand {
    /// Run one takedown sweep now (what the scheduled job does every minute)
    /// and print what it did as JSON.
    Sweep,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a member. The password is read from standard input when it is
    /// not a terminal, and prompted for (twice) otherwise.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, ignore_case = true, value_parser = role_parser())]
        role: Role,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the audit hash chain; exits 1 when it is broken.
    Verify,
}

/// Role names, listed by `--help`.
fn role_parser() -> impl clap::builder::TypedValueParser<Value = Role> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new([
        "ADMIN",
        "MANAGER",
        "EDITOR",
        "CONTRIBUTOR",
        "VIEWER",
    ])
    .try_map(|s| s.parse::<Role>())
}

fn load_config(cli: &Cli) -> Result<Config, ExitCode> {
    let mut env: std::collections::HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("VITRINE_"))
        .collect();
    if let Some(dir) = &cli.data_dir {
        env.insert("VITRINE_DATA_DIR".into(), dir.display().to_string());
    }
    let file = match &cli.config {
        Some(path) => crate::config::read_file(path).map_err(config_failure)?,
        None => Default::default(),
    };
    Config::from_sources(&env, &file).map_err(config_failure)
}

fn config_failure(e: crate::config::ConfigError) -> ExitCode {
    eprintln!("vitrine: invalid configuration: {e}");
    ExitCode::from(2)
}

fn fail(context: &str, e: impl std::fmt::Display) -> ExitCode {
    eprintln!("vitrine: {context}: {e}");
    ExitCode::FAILURE
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    if let Command::Schema = cli.command {
        print!("{}", crate::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::telemetry::init(config.log_format, &config.log_filter);
    // Commands that work on an existing installation never create one: a
    // wrong directory is named, not silently filled with an empty database.
    if matches!(
        cli.command,
        Command::Admin { .. }
            | Command::Audit { .. }
            | Command::Licenses { .. }
            | Command::Usage { .. }
    ) && let Err(code) = require_database(&config)
    {
        return code;
    }
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Worker => worker(config).await,
        Command::Migrate => migrate(config).await,
        Command::Admin {
            command: AdminCommand::CreateUser { email, role, name },
        } => create_user(config, email, role, name).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => audit_verify(config).await,
        Command::Licenses {
            command: LicensesCommand::Sweep,
        } => licenses_sweep(config).await,
        Command::Usage {
            command: UsageCommand::Rollup { max_batches },
        } => usage_rollup(config, max_batches).await,
        Command::Schema => ExitCode::SUCCESS,
    }
}

/// Runs one pass of a leased job now and prints its JSON report (with the
/// time it took). Exits 1 when another runner held the job's lease.
async fn run_once<R, E, F, Fut>(config: Config, job: &str, run: F) -> ExitCode
where
    R: serde::Serialize,
    E: std::fmt::Display,
    F: FnOnce(vitrine_worker::WorkerDeps) -> Fut,
    Fut: std::future::Future<Output = Result<(R, bool), E>>,
{
    let stop = CancellationToken::new();
    let state = match crate::app::build_state(config, Arc::new(SystemClock), stop.clone()).await {
        Ok(s) => s,
        Err(e) => return fail("cannot start", format!("{e:#}")),
    };
    let started = std::time::Instant::now();
    let result = run(crate::app::worker_deps(&state)).await;
    let elapsed = started.elapsed();
    stop.cancel();
    match result {
        Ok((report, ran)) => {
            let mut out = serde_json::to_value(&report).unwrap_or_default();
            out["elapsedMs"] = serde_json::json!(elapsed.as_secs_f64() * 1000.0);
            println!("{out}");
            if ran {
                ExitCode::SUCCESS
            } else {
                eprintln!("vitrine: another runner holds the {job}; nothing done");
                ExitCode::from(1)
            }
        }
        Err(e) => fail(&format!("the {job} failed"), e),
    }
}

async fn usage_rollup(config: Config, max_batches: Option<u64>) -> ExitCode {
    run_once(config, "usage rollup", |deps| async move {
        vitrine_worker::usage::rollup(&deps.db, &deps.settings.rollup, max_batches)
            .await
            .map(|r| {
                let ran = r.ran;
                (r, ran)
            })
    })
    .await
}

async fn licenses_sweep(config: Config) -> ExitCode {
    run_once(config, "takedown sweep", |deps| async move {
        vitrine_worker::takedown::sweep(&deps).await.map(|r| {
            let ran = r.ran;
            (r, ran)
        })
    })
    .await
}

async fn serve(mut config: Config) -> ExitCode {
    if let Err(e) = crate::secret::ensure_secret(&mut config) {
        return fail("cannot set up the secret key", e);
    }
    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {}", config.bind), e),
    };
    tracing::info!(
        database = config.database_kind(),
        redis = config.redis_url.is_some(),
        embedded_workers = config.embedded_workers(),
        "starting vitrine serve"
    );
    let running = match crate::app::start(
        config,
        Arc::new(SystemClock),
        listener,
        crate::app::shutdown_signal(),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return fail("cannot start", format!("{e:#}")),
    };
    match running.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("server stopped", format!("{e:#}")),
    }
}

async fn worker(config: Config) -> ExitCode {
    let stop = CancellationToken::new();
    let state = match crate::app::build_state(config, Arc::new(SystemClock), stop.clone()).await {
        Ok(s) => s,
        Err(e) => return fail("cannot start", format!("{e:#}")),
    };
    if state.config.embedded_workers() {
        tracing::warn!(
            "no VITRINE_REDIS_URL: this worker uses the embedded queue file; `vitrine serve` already runs workers in this mode"
        );
    }
    let deps = crate::app::worker_deps(&state);
    let result = vitrine_worker::run_workers(deps, crate::app::shutdown_signal()).await;
    stop.cancel();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("workers stopped", e),
    }
}

/// Fails, naming the path, when the configured SQLite database does not exist.
fn require_database(config: &Config) -> Result<(), ExitCode> {
    let Some(path) = config.sqlite_path() else {
        return Ok(());
    };
    if path.exists() {
        return Ok(());
    }
    eprintln!(
        "vitrine: no database at {}: this is not the data directory of a Vitrine installation.\n\
         Give the one `vitrine serve` uses with --data-dir or VITRINE_DATA_DIR (default ./data, \
         relative to the current directory), or create it with `vitrine migrate`.",
        path.display()
    );
    Err(ExitCode::from(2))
}

async fn connect(config: &Config) -> Result<sea_orm::DatabaseConnection, ExitCode> {
    if let Err(e) = crate::secret::ensure_data_dir(&config.data_dir) {
        return Err(fail("cannot create the data directory", e));
    }
    crate::db::connect(config).await.map_err(|e| {
        fail(
            &format!("cannot connect to the {} database", config.database_kind()),
            e,
        )
    })
}

async fn migrate(config: Config) -> ExitCode {
    let db = match connect(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    match crate::db::migrate(&db).await {
        Ok(()) => {
            println!("migrations applied");
            ExitCode::SUCCESS
        }
        Err(e) => fail("migration failed", e),
    }
}

/// Reads the new user's password: from standard input when it is piped,
/// otherwise from two prompts that do not echo.
fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the passwords differ".into());
        }
        Ok(first)
    } else {
        let mut input = String::new();
        std::io::stdin()
            .take(4096)
            .read_to_string(&mut input)
            .map_err(|e| e.to_string())?;
        Ok(input.trim_end_matches(['\r', '\n']).to_owned())
    }
}

async fn create_user(config: Config, email: String, role: Role, name: Option<String>) -> ExitCode {
    let password = match read_password() {
        Ok(p) => p,
        Err(e) => return fail("cannot read the password", e),
    };
    let stop = CancellationToken::new();
    let state = match crate::app::build_state_with(
        config,
        Arc::new(SystemClock),
        stop.clone(),
        false,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return fail("cannot start", format!("{e:#}")),
    };
    let display_name = name.unwrap_or_else(|| {
        email
            .split('@')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("Administrator")
            .to_owned()
    });
    let meta = RequestMeta {
        ip: None,
        user_agent: Some("vitrine-cli".into()),
    };
    let result = users::create(
        &state,
        &Actor::System,
        NewUser {
            email,
            display_name,
            password,
            kind: UserKind::Member,
            role: Some(role),
            partner_org_id: None,
        },
        &meta,
    )
    .await;
    stop.cancel();
    match result {
        Ok(user) => {
            println!(
                "created {} {} ({})",
                user.role.map_or("", Role::as_str),
                user.email,
                user.id
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail("cannot create the user", e.message()),
    }
}

/// Prints a verification report the way `vitrine audit verify` does.
pub fn format_report(report: &VerifyReport) -> String {
    match report.first_bad_seq {
        None => format!("audit chain OK: {} events verified", report.checked),
        Some(seq) => format!(
            "audit chain BROKEN at seq {seq} ({} events checked)",
            report.checked
        ),
    }
}

/// Verifies the chain of the configured database (the library form of
/// `vitrine audit verify`).
pub async fn verify_audit(config: &Config) -> anyhow::Result<VerifyReport> {
    let db = crate::db::connect(config).await?;
    Ok(crate::services::audit::verify_chain(&db).await?)
}

async fn audit_verify(config: Config) -> ExitCode {
    match verify_audit(&config).await {
        Ok(report) => {
            println!("{}", format_report(&report));
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail("cannot verify the audit chain", format!("{e:#}")),
    }
}
