//! The HTTP step API (`dxsim serve`, DESIGN.md §4) on tokio and axum.
//!
//! # Layout
//! - [`config`]: tokens, limits, store path.
//! - `error`: the one error type (`{"error": {"code", "message"}}`) and the JSON body extractor;
//!   `body_shape` refuses an array where the document says object (serde would read it as a struct).
//! - `routes`: the router and its handlers; they check the token and the input, then hand the work to
//!   a shard and wait for its answer.
//! - `shard`: engine worker threads, each owning a share of the episodes in an
//!   [`EpisodePool`](crate::episode::EpisodePool); pending steps advance in one schedule run.
//! - `writer`: the store writer thread; it commits events in groups and only then releases replies.
//! - `api_doc`: the OpenAPI document and JSON Schemas.
//!
//! [`run`] takes a bound listener and a shutdown future, as mini-redis does, so tests bind
//! `127.0.0.1:0` and stop the server cleanly. On start it rebuilds every live episode from the store.

mod api_doc;
mod body_shape;
pub mod config;
mod error;
mod routes;
mod shard;
mod writer;

use std::future::Future;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use dxsim_gatekeeper::Catalogue;
use dxsim_gatekeeper::text::stable_hash;

pub use config::{Access, Limits, ServerConfig, TokenError};
pub use error::ApiError;
pub use shard::Mode;

use crate::episode::{CaseSelector, CaseTablesCache, DiscreteTable, EnvError, prepare_case_tables};
use crate::library::{CaseLibrary, LibraryError};
use crate::store::{Store, StoreError};
use shard::{Command, Counts, Shard, ShardContext};

/// Why the server could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The built-in case library is broken.
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
    /// A worker thread panicked.
    #[error("the {0} thread panicked")]
    Worker(&'static str),
}

/// What a finished run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Episodes and vector envs rebuilt from the store at start.
    pub restored: usize,
    /// Stored ones that could not be rebuilt (marked `failed`).
    pub failed: usize,
}

/// The discrete action table the server offers (built once per process).
fn discrete_table(library: &CaseLibrary) -> &'static DiscreteTable {
    static TABLE: OnceLock<DiscreteTable> = OnceLock::new();
    TABLE.get_or_init(|| DiscreteTable::new(Catalogue::builtin(), library))
}

/// The shard that owns an episode or vector env id.
fn shard_of(id: &str, shards: usize) -> usize {
    (stable_hash(id.as_bytes()) % shards.max(1) as u64) as usize
}

/// What every handler shares.
pub(crate) struct AppState {
    shards: Vec<Sender<Command>>,
    access: Access,
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
    library: &'static CaseLibrary,
    table: &'static DiscreteTable,
    case_details: bool,
    /// The discrete case tables every vector env shares.
    tables_cache: CaseTablesCache,
}

impl AppState {
    /// Learns the case tables `selector` can choose, on the calling thread (never an engine
    /// shard's): a vector env's creation waits here alone, not the episodes of its shard. It waits
    /// on the start-up warm-up only for a case the warm-up is learning at that moment.
    fn prepare_tables(&self, selector: &CaseSelector) -> Result<(), EnvError> {
        prepare_case_tables(self.library, self.table, &self.tables_cache, selector)
    }
}

/// Serves the step API on `listener` until `shutdown` completes, then finishes the requests in
/// flight, commits what they wrote and returns.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunSummary, ServerError> {
    let library = match config.library {
        Some(library) => library,
        None => CaseLibrary::builtin()?,
    };
    // The stamps episode logs carry, computed now rather than at the first reset of a shard.
    library.stamps();
    crate::judge::RuleJudge::warm_up_in_background();
    let table = discrete_table(library);
    let store = match &config.store {
        Some(path) => Store::open(path, config.durability)?,
        None => Store::in_memory()?,
    };
    let shard_count = config.shards.max(1);
    let mut stored_episodes: Vec<Vec<_>> = (0..shard_count).map(|_| Vec::new()).collect();
    for episode in store.live_episodes()? {
        stored_episodes[shard_of(&episode.id, shard_count)].push(episode);
    }
    let mut stored_vectors: Vec<Vec<_>> = (0..shard_count).map(|_| Vec::new()).collect();
    for vector in store.live_vectors()? {
        stored_vectors[shard_of(&vector.id, shard_count)].push(vector);
    }
    let restoring = stored_episodes.iter().map(Vec::len).sum::<usize>()
        + stored_vectors.iter().map(Vec::len).sum::<usize>();

    let counts = Arc::new(Mutex::new(Counts::default()));
    let tables_cache = CaseTablesCache::default();
    let (writer_sender, writer_receiver) = mpsc::channel();
    let mut shard_senders = Vec::with_capacity(shard_count);
    let mut shard_receivers = Vec::with_capacity(shard_count);
    for _ in 0..shard_count {
        let (sender, receiver) = mpsc::channel();
        shard_senders.push(sender);
        shard_receivers.push(receiver);
    }
    let writer = {
        let shards = shard_senders.clone();
        std::thread::Builder::new()
            .name("dxsim-writer".into())
            .spawn(move || writer::run(store, &writer_receiver, &shards))?
    };
    let mut workers: Vec<JoinHandle<usize>> = Vec::with_capacity(shard_count);
    for (index, ((receiver, episodes), vectors)) in shard_receivers
        .into_iter()
        .zip(stored_episodes)
        .zip(stored_vectors)
        .enumerate()
    {
        let context = ShardContext {
            index,
            library,
            table,
            tables_cache: Arc::clone(&tables_cache),
            counts: Arc::clone(&counts),
            writer: writer_sender.clone(),
        };
        workers.push(
            std::thread::Builder::new()
                .name(format!("dxsim-shard-{index}"))
                .spawn(move || {
                    let mut shard = Shard::new(context);
                    let failed = shard.restore(episodes, vectors);
                    shard.run(&receiver);
                    failed
                })?,
        );
    }
    drop(writer_sender);

    let expiry = tokio::spawn(expire_idle(
        shard_senders.clone(),
        config.limits.idle_expiry,
    ));
    let state = Arc::new(AppState {
        shards: shard_senders.clone(),
        access: config.access,
        limits: config.limits,
        counts,
        library,
        table,
        case_details: config.case_details,
        tables_cache,
    });
    // Every case's discrete tables, learnt in the background so that the first vector env finds
    // them ready.
    {
        let state = Arc::clone(&state);
        std::thread::Builder::new()
            .name("dxsim-case-tables".into())
            .spawn(move || state.prepare_tables(&CaseSelector::default()))?;
    }
    let served = axum::serve(listener, routes::router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    expiry.abort();
    for sender in &shard_senders {
        let _ = sender.send(Command::Stop);
    }
    drop(shard_senders);
    let joined = tokio::task::spawn_blocking(move || {
        let mut failed = 0;
        for worker in workers {
            failed += worker.join().map_err(|_| ServerError::Worker("shard"))?;
        }
        writer.join().map_err(|_| ServerError::Worker("writer"))?;
        Ok::<usize, ServerError>(failed)
    })
    .await
    .map_err(|_| ServerError::Worker("shutdown"))??;
    served?;
    Ok(RunSummary {
        restored: restoring - joined,
        failed: joined,
    })
}

/// Asks every shard, now and then, to close what has been idle too long.
async fn expire_idle(shards: Vec<Sender<Command>>, idle: Duration) {
    let tick = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        for shard in &shards {
            if shard.send(Command::Expire { idle }).is_err() {
                return;
            }
        }
    }
}
