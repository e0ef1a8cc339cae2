//! The command line (see `shared/spec/interface.md`): every option also reads
//! the environment variable beside it.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};
use domain::auth::Role;

use crate::config;

#[derive(Debug, Parser)]
#[command(name = "purple-cross", version, about = "Purple Cross Automations: webhooks and workflows")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// UI, REST API and background workers in one process.
    Serve(ServeArgs),
    /// Applies the database migrations and exits.
    Migrate(DbArgs),
    /// API keys for integrations.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Browser logins.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Loads the demo practice (records, webhooks to the built-in request inspector, workflow templates) into an empty database.
    Demo(DemoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Load it even though the database already has records.
    #[arg(long, default_value_t = false)]
    pub force: bool,
    /// The address `serve` will listen on: the demo webhooks point at its inspector.
    #[arg(long, env = "PURPLE_CROSS_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,
    #[arg(long, env = "PURPLE_CROSS_TIMEZONE", default_value = "UTC")]
    pub timezone: String,
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// `sqlite://…` or `postgres://…`; defaults to an SQLite file under the data folder.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Base64 of 32 bytes; encrypts secrets at rest.
    #[arg(long, env = "PURPLE_CROSS_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Where the embedded database and the generated master key live.
    #[arg(long, env = "PURPLE_CROSS_DATA_DIR", default_value = "./data")]
    pub data_dir: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProcessRole {
    All,
    Api,
    Worker,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long, env = "PURPLE_CROSS_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,
    /// Redis, when several instances share the work.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Comma-separated CIDRs that webhook and workflow HTTP targets may reach
    /// although private or loopback.
    #[arg(long, env = "PURPLE_CROSS_ALLOW_PRIVATE_TARGETS", default_value = "")]
    pub allow_private_targets: String,
    /// Refuse webhook URLs that are not https.
    #[arg(long, env = "PURPLE_CROSS_REQUIRE_HTTPS", default_value_t = false)]
    pub require_https: bool,
    #[arg(long, env = "PURPLE_CROSS_ROLE", value_enum, default_value = "all")]
    pub role: ProcessRole,
    /// Deliveries and events older than this many days are deleted.
    #[arg(long, env = "PURPLE_CROSS_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: i64,
    /// How long a worker's claim on a delivery lasts before another instance may take it over.
    #[arg(long, env = "PURPLE_CROSS_LEASE_SECONDS", default_value_t = 60)]
    pub lease_seconds: i64,
    /// Deliveries held at once, in all: from ingest or the claim until the outcome is recorded.
    #[arg(long, env = "PURPLE_CROSS_CONCURRENCY", default_value_t = 2048)]
    pub concurrency: usize,
    /// Requests in flight at once to one webhook.
    #[arg(long, env = "PURPLE_CROSS_PER_ENDPOINT", default_value_t = 64)]
    pub per_endpoint: usize,
    /// Seconds a webhook receiver gets to accept the connection.
    #[arg(long, env = "PURPLE_CROSS_CONNECT_TIMEOUT", default_value_t = 5)]
    pub connect_timeout: u64,
    /// Seconds a webhook receiver gets to answer in all.
    #[arg(long, env = "PURPLE_CROSS_REQUEST_TIMEOUT", default_value_t = 15)]
    pub request_timeout: u64,
    /// Hours a webhook may fail without a single success before it is disabled.
    #[arg(long, env = "PURPLE_CROSS_AUTO_DISABLE_HOURS", default_value_t = 120)]
    pub auto_disable_hours: i64,
    /// Largest event `data` accepted, in KiB (larger gets 413).
    #[arg(long, env = "PURPLE_CROSS_MAX_PAYLOAD_KIB", default_value_t = 256)]
    pub max_payload_kib: usize,
    /// The practice's IANA timezone: for display, due dates and schedules without their own.
    #[arg(long, env = "PURPLE_CROSS_TIMEZONE", default_value = "UTC")]
    pub timezone: String,
    /// Where workflow emails are sent (`smtp://host:port`, `smtps://user:pass@host`); none keeps them in the outbox only.
    #[arg(long, env = "PURPLE_CROSS_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// After SIGTERM the process exits within this many seconds, whatever its workers are doing.
    #[arg(long, env = "PURPLE_CROSS_SHUTDOWN_SECONDS", default_value_t = 10)]
    pub shutdown_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Admin,
    Staff,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Staff => Role::Staff,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Creates an API key and prints it (once) as the last line of stdout.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Creates a browser login; asks for the password when --password is absent.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long, env = "PURPLE_CROSS_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PURPLE_CROSS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("PURPLE_CROSS_LOG_FORMAT").map(|f| f == "json").unwrap_or(false);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => crate::http::serve(args).await,
        Command::Migrate(db) => {
            let services = config::open(&db, config::MasterKeyUse::NotNeeded).await?;
            services.db.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys { command: KeysCommand::Create { name, role, db } } => {
            let services = config::open(&db, config::MasterKeyUse::NotNeeded).await?;
            let created =
                services.create_api_key(&domain::auth::system(), &name, role.into()).await.map_err(|e| describe(&e))?;
            services.db.close().await;
            println!("created API key {} ({name}); it is shown only once:", created.id);
            println!("{}", created.key);
            Ok(())
        }
        Command::Demo(args) => demo(args).await,
        Command::Users { command: UsersCommand::Create { email, role, password, db } } => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let services = config::open(&db, config::MasterKeyUse::NotNeeded).await?;
            let user = services
                .create_user(&domain::auth::system(), &email, &password, role.into())
                .await
                .map_err(|e| describe(&e))?;
            services.db.close().await;
            println!("created {} user {}", user.role.as_str(), user.email);
            Ok(())
        }
    }
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let timezone = domain::settings::parse_timezone(&args.timezone).map_err(|e| format!("--timezone: {e}"))?;
    let settings = domain::settings::Settings { timezone, ..domain::settings::Settings::default() };
    let targets = domain::ssrf::TargetPolicy { inspector: Some(args.bind), ..domain::ssrf::TargetPolicy::default() };
    let services = config::open_with(&args.db, config::MasterKeyUse::Needed, settings, targets).await?;
    let base = format!("http://{}", args.bind);
    let loaded = services.load_demo(&domain::auth::system(), &base, args.force).await.map_err(|e| describe(&e))?;
    services.db.close().await;
    println!(
        "loaded the demo practice: {} clients, {} patients, {} appointments, {} invoices, {} lab tests, {} prescriptions, {} medical records",
        loaded.clients, loaded.patients, loaded.appointments, loaded.invoices, loaded.lab_tests, loaded.prescriptions, loaded.medical_records
    );
    println!("and {} webhooks delivering to the request inspector at {base}/inspector", loaded.webhooks);
    println!("and {} workflow templates (their executions run once `serve` starts)", loaded.workflows);
    Ok(())
}

fn read_password() -> Result<String, String> {
    use std::io::BufRead;
    eprint!("password (input is shown; or pass --password): ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// A domain error as a person reads it on the terminal.
pub fn describe(e: &domain::Error) -> String {
    match e {
        domain::Error::Validation(errs) => {
            errs.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}
