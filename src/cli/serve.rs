//! `dxsim serve`: the HTTP step API over the built-in case library, with episode logs in a SQLite
//! store (see `docs/http-api.md`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use dxsim::server::{self, Access, Limits, ServerConfig};
use dxsim::store::Durability;

use super::libraries::CasesArgs;
use super::{Outcome, UserError};

/// Arguments of `dxsim serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the first line of output names it).
    #[arg(long, default_value = "127.0.0.1:8737")]
    bind: SocketAddr,
    /// The SQLite store of episode logs [default: $DXSIM_STORE, else dxsim.sqlite in the user's data
    /// directory].
    #[arg(long)]
    store: Option<PathBuf>,
    /// Keep episode logs in memory only: nothing survives a restart.
    #[arg(long, conflicts_with = "store")]
    memory_store: bool,
    /// Serve without tokens: anyone who can reach the address may play. For local use only.
    #[arg(long)]
    open: bool,
    /// A file of NAME=TOKEN lines (instead of the DXSIM_TOKENS variable).
    #[arg(long, conflicts_with = "open")]
    tokens_file: Option<PathBuf>,
    /// Also fsync every commit, so episodes survive power loss, not only a crash of the server.
    #[arg(long)]
    sync_full: bool,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Longest action text, characters.
    #[arg(long, default_value_t = Limits::default().max_action_chars)]
    max_action_chars: usize,
    /// Live episodes one token may hold.
    #[arg(long, default_value_t = Limits::default().max_episodes_per_token)]
    max_episodes_per_token: usize,
    /// Live episodes on the whole server.
    #[arg(long, default_value_t = Limits::default().max_episodes)]
    max_episodes: usize,
    /// Most episodes in one vector environment (`POST /v1/vector-envs` `count`).
    #[arg(long, default_value_t = Limits::default().max_vector_count as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_vector_count: u64,
    /// Seconds an episode may sit idle before it is closed.
    #[arg(long, default_value_t = Limits::default().idle_expiry.as_secs())]
    idle_expiry: u64,
    /// Engine worker threads [default: one per core].
    #[arg(long)]
    shards: Option<usize>,
    /// Let `GET /v1/cases` show each case's id, title, specialty, difficulty and split (and filter
    /// on them). Never on a server agents can reach: an id carries clues to the diagnosis.
    #[arg(long)]
    case_details: bool,
    #[command(flatten)]
    cases: CasesArgs,
}

/// Where the store lives when no path is given.
fn default_store() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("DXSIM_STORE") {
        return Ok(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .ok_or_else(|| {
            UserError::new(
                "cannot tell where to keep the store: neither XDG_DATA_HOME nor HOME is set",
                Some("pass --store FILE (or --memory-store)".into()),
            )
        })?;
    let directory = base.join("dxsim");
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("creating the data directory {}", directory.display()))?;
    Ok(directory.join("dxsim.sqlite"))
}

/// Who may call: open mode, a tokens file, or DXSIM_TOKENS.
fn access(args: &ServeArgs) -> anyhow::Result<Access> {
    let hint = "set DXSIM_TOKENS=\"alice=a-long-secret\" (or --tokens-file FILE with NAME=TOKEN lines), \
                or pass --open for local use without tokens";
    let (source, text) = if args.open {
        return Ok(Access::Open);
    } else if let Some(path) = &args.tokens_file {
        let text = std::fs::read_to_string(path).map_err(|error| {
            UserError::new(
                format!("cannot read the tokens file {}: {error}", path.display()),
                None,
            )
        })?;
        (path.display().to_string(), text)
    } else if let Ok(text) = std::env::var("DXSIM_TOKENS") {
        ("DXSIM_TOKENS".to_string(), text)
    } else {
        return Err(UserError::new("no tokens are set", Some(hint.into())).into());
    };
    Access::parse_tokens(&text)
        .map_err(|error| UserError::new(format!("{source}: {error}"), Some(hint.into())).into())
}

/// Runs `dxsim serve` until SIGINT or SIGTERM.
pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<Outcome> {
    let access = access(args)?;
    let store = if args.memory_store {
        None
    } else {
        Some(match &args.store {
            Some(path) => path.clone(),
            None => default_store()?,
        })
    };
    if args.idle_expiry == 0 {
        return Err(UserError::new("--idle-expiry must be at least 1 second", None).into());
    }
    let config = ServerConfig {
        store: store.clone(),
        durability: if args.sync_full {
            Durability::Full
        } else {
            Durability::Process
        },
        access,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_action_chars: args.max_action_chars,
            max_episodes_per_token: args.max_episodes_per_token,
            max_episodes: args.max_episodes,
            idle_expiry: Duration::from_secs(args.idle_expiry),
            max_vector_count: usize::try_from(args.max_vector_count).unwrap_or(usize::MAX),
        },
        shards: args.shards.unwrap_or(ServerConfig::default().shards).max(1),
        case_details: args.case_details,
        library: Some(args.cases.load()?),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("dxsim=info")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.bind).await.map_err(|error| {
            UserError::new(
                format!("cannot listen on {}: {error}", args.bind),
                Some("choose another address with --bind (port 0 picks a free one)".into()),
            )
        })?;
        let address = listener.local_addr().context("reading the bound address")?;
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "dxsim serve: listening on http://{address}")?;
            stdout.flush()?;
        }
        let mut stderr = std::io::stderr().lock();
        match &config.access {
            Access::Open => {
                writeln!(
                    stderr,
                    "open mode: no token needed; to require tokens, restart with \
                     DXSIM_TOKENS=\"alice=a-long-secret\" and no --open"
                )?;
                if !address.ip().is_loopback() {
                    writeln!(
                        stderr,
                        "warning: open mode on a non-loopback address: anyone who can reach {address} may play"
                    )?;
                }
            }
            Access::Tokens(tokens) => {
                let mut names: Vec<&str> = tokens.values().map(|name| &**name).collect();
                names.sort_unstable();
                writeln!(
                    stderr,
                    "tokens for: {}; clients send `Authorization: Bearer TOKEN`",
                    names.join(", ")
                )?;
            }
        }
        match &store {
            Some(path) => writeln!(stderr, "store: {}", path.display())?,
            None => writeln!(stderr, "store: in memory (nothing survives a restart)")?,
        }
        writeln!(stderr, "API: http://{address}/v1/openapi.json; stop with Ctrl-C")?;
        drop(stderr);
        let summary = server::run(listener, config, shutdown_signal())
            .await
            .context("the server failed")?;
        tracing::info!(
            "stopped cleanly ({} episodes had been rebuilt at start, {} could not be)",
            summary.restored,
            summary.failed
        );
        Ok(Outcome::Success)
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
