//! The store: one SQLite file holding the server's episode event logs (and, later, evaluation results,
//! the trainee logbook and the LLM response cache).
//!
//! An episode's log is a row in `episodes` and its events, in order, in `events`: a `reset` event
//! (case, seed, options) followed by `step` events (action and response). That is exactly an
//! [`EpisodeLog`], so a restarted server rebuilds every live episode by replaying its events since the
//! last reset. Vector environments keep their creation parameters, a checkpoint (each episode's seed
//! and the actions since its last reset) and the action vectors taken since that checkpoint.
//!
//! Events live in a rowid table, so each commit appends bodies to the end of the file instead of
//! rewriting pages shared with other episodes' events; a small index on (episode, sequence) finds an
//! episode's log. The file runs in WAL mode with `synchronous=NORMAL`: a committed transaction survives the process
//! being killed (SIGKILL); `Durability::Full` also survives power loss, at the price of an fsync per
//! commit.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::episode::EpisodeOptions;
use crate::episode::log::{EpisodeLog, LogHeader, LogStep};

/// The schema version this build writes; older files are migrated on open.
const SCHEMA_VERSION: i64 = 1;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("store {context}: {source}")]
    Sqlite {
        /// What was being done.
        context: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A stored record is not of the expected shape.
    #[error("store record {what} is corrupt: {source}")]
    Corrupt {
        /// Which record.
        what: String,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// The file was written by a newer dxsim.
    #[error(
        "the store's schema version is {0}, newer than this build's {SCHEMA_VERSION}; upgrade dxsim"
    )]
    TooNew(i64),
}

/// Attaches a context to a SQLite error.
trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { context, source })
    }
}

/// How hard a commit works to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives the process dying (WAL, `synchronous=NORMAL`).
    #[default]
    Process,
    /// Also survives power loss (`synchronous=FULL`).
    Full,
}

/// One change to the store; the server's writer commits many in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreEvent {
    /// An episode was created (its first reset follows as a separate event).
    EpisodeCreated {
        /// Episode id.
        id: String,
        /// The token name that owns it.
        owner: String,
        /// `text` or `discrete`.
        mode: String,
    },
    /// An episode was (re)started.
    EpisodeReset {
        /// Episode id.
        id: String,
        /// Its event sequence number.
        seq: u64,
        /// The mode from now on.
        mode: String,
        /// The reset's case, seed and options.
        header: LogHeader,
    },
    /// An episode took a step.
    EpisodeStep {
        /// Episode id.
        id: String,
        /// Its event sequence number.
        seq: u64,
        /// The action and its response.
        step: LogStep,
    },
    /// An episode was closed (`closed`, `expired` or `failed`).
    EpisodeEnded {
        /// Episode id.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// A vector environment was created.
    VectorCreated {
        /// Vector env id.
        id: String,
        /// Owner.
        owner: String,
        /// Its parameters.
        spec: VectorSpec,
    },
    /// A vector environment took a step.
    VectorStep {
        /// Vector env id.
        id: String,
        /// Its step sequence number.
        seq: u64,
        /// One action index per episode.
        actions: Vec<u32>,
    },
    /// A vector environment's checkpoint; steps up to `seq` are folded into it and deleted.
    VectorCheckpoint {
        /// Vector env id.
        id: String,
        /// The last step the checkpoint includes.
        seq: u64,
        /// The checkpoint.
        checkpoint: VectorCheckpoint,
    },
    /// A vector environment was closed.
    VectorEnded {
        /// Vector env id.
        id: String,
        /// Why.
        reason: &'static str,
    },
}

/// How a vector environment was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorSpec {
    /// Number of episodes.
    pub count: usize,
    /// Episode `i` starts on `seed + i`.
    pub seed: u64,
    /// Options shared by every episode.
    pub options: EpisodeOptions,
}

/// Enough to rebuild a vector environment: each episode's seed and the actions since its reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VectorCheckpoint {
    /// Per episode: its seed and the actions it has taken since it was reset.
    pub episodes: Vec<(u64, Vec<u32>)>,
}

/// A live episode as stored: who owns it and its log since the last reset.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEpisode {
    /// Episode id.
    pub id: String,
    /// Owner.
    pub owner: String,
    /// `text` or `discrete`.
    pub mode: String,
    /// The last event's sequence number.
    pub last_seq: u64,
    /// The log since the last reset.
    pub log: EpisodeLog,
}

/// A live vector environment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVector {
    /// Vector env id.
    pub id: String,
    /// Owner.
    pub owner: String,
    /// Creation parameters.
    pub spec: VectorSpec,
    /// The last checkpoint, if one was written.
    pub checkpoint: Option<VectorCheckpoint>,
    /// The steps after the checkpoint: sequence number and actions.
    pub steps: Vec<(u64, Vec<u32>)>,
}

/// The SQLite store.
pub struct Store {
    connection: Connection,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path, durability: Durability) -> Result<Store, StoreError> {
        let connection = Connection::open(path).context("open")?;
        Store::init(connection, durability)
    }

    /// A store in memory, for tests and throwaway runs.
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::init(
            Connection::open_in_memory().context("open in memory")?,
            Durability::Process,
        )
    }

    fn init(connection: Connection, durability: Durability) -> Result<Store, StoreError> {
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .context("set busy timeout")?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .context("enable WAL")?;
        let synchronous = match durability {
            Durability::Process => "NORMAL",
            Durability::Full => "FULL",
        };
        connection
            .pragma_update(None, "synchronous", synchronous)
            .context("set synchronous")?;
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .context("enable foreign keys")?;
        // Checkpoint the WAL every 64 MiB rather than every 4 MiB: under a steady stream of steps the
        // same hot pages are copied (and the file synced) far less often.
        connection
            .pragma_update(None, "wal_autocheckpoint", 16_384)
            .context("set the checkpoint interval")?;
        connection
            .pragma_update(None, "journal_size_limit", 67_108_864)
            .context("set the WAL size limit")?;
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .context("read schema version")?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew(version));
        }
        if version < 1 {
            connection
                .execute_batch(
                    "BEGIN;
                     CREATE TABLE IF NOT EXISTS episodes (
                         id TEXT PRIMARY KEY,
                         owner TEXT NOT NULL,
                         mode TEXT NOT NULL,
                         status TEXT NOT NULL DEFAULT 'live',
                         created_at INTEGER NOT NULL DEFAULT (unixepoch()),
                         ended_at INTEGER
                     );
                     CREATE INDEX IF NOT EXISTS episodes_live ON episodes(status);
                     CREATE TABLE IF NOT EXISTS events (
                         id INTEGER PRIMARY KEY,
                         episode_id TEXT NOT NULL REFERENCES episodes(id),
                         seq INTEGER NOT NULL,
                         kind TEXT NOT NULL,
                         body TEXT NOT NULL,
                         UNIQUE (episode_id, seq)
                     );
                     CREATE TABLE IF NOT EXISTS vectors (
                         id TEXT PRIMARY KEY,
                         owner TEXT NOT NULL,
                         spec TEXT NOT NULL,
                         status TEXT NOT NULL DEFAULT 'live',
                         checkpoint_seq INTEGER,
                         checkpoint TEXT,
                         created_at INTEGER NOT NULL DEFAULT (unixepoch()),
                         ended_at INTEGER
                     );
                     CREATE TABLE IF NOT EXISTS vector_steps (
                         vector_id TEXT NOT NULL REFERENCES vectors(id),
                         seq INTEGER NOT NULL,
                         actions BLOB NOT NULL,
                         PRIMARY KEY (vector_id, seq)
                     ) WITHOUT ROWID;
                     PRAGMA user_version = 1;
                     COMMIT;",
                )
                .context("create schema")?;
        }
        Ok(Store { connection })
    }

    /// Commits `events` in one transaction, in order: all of them or none.
    pub fn commit(&mut self, events: &[StoreEvent]) -> Result<(), StoreError> {
        let transaction = self.connection.transaction().context("begin")?;
        for event in events {
            apply(&transaction, event)?;
        }
        transaction.commit().context("commit")
    }

    /// Every live episode, with its log since the last reset.
    pub fn live_episodes(&self) -> Result<Vec<StoredEpisode>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, owner, mode FROM episodes WHERE status = 'live' ORDER BY id",
            )
            .context("list live episodes")?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .context("list live episodes")?
            .collect::<Result<Vec<_>, _>>()
            .context("list live episodes")?;
        let mut live = Vec::with_capacity(rows.len());
        for (id, owner, mode) in rows {
            if let Some((last_seq, log)) = self.episode_log(&id)? {
                live.push(StoredEpisode {
                    id,
                    owner,
                    mode,
                    last_seq,
                    log,
                });
            }
        }
        Ok(live)
    }

    /// An episode's log since its last reset, and its last sequence number; `None` if it never reset.
    pub fn episode_log(&self, id: &str) -> Result<Option<(u64, EpisodeLog)>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT seq, kind, body FROM events WHERE episode_id = ?1
                 AND seq >= (SELECT MAX(seq) FROM events WHERE episode_id = ?1 AND kind = 'reset')
                 ORDER BY seq",
            )
            .context("read episode events")?;
        let rows = statement
            .query_map([id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .context("read episode events")?
            .collect::<Result<Vec<_>, _>>()
            .context("read episode events")?;
        let mut rows = rows.into_iter();
        let Some((first_seq, _, header)) = rows.next() else {
            return Ok(None);
        };
        let corrupt = |seq: i64| {
            let what = format!("{id} event {seq}");
            move |source| StoreError::Corrupt { what, source }
        };
        let header: LogHeader = serde_json::from_str(&header).map_err(corrupt(first_seq))?;
        let mut last_seq = first_seq;
        let mut steps = Vec::new();
        for (seq, _, body) in rows {
            steps.push(serde_json::from_str(&body).map_err(corrupt(seq))?);
            last_seq = seq;
        }
        Ok(Some((
            u64::try_from(last_seq).unwrap_or_default(),
            EpisodeLog { header, steps },
        )))
    }

    /// Every live vector environment.
    pub fn live_vectors(&self) -> Result<Vec<StoredVector>, StoreError> {
        let ids = self
            .connection
            .prepare_cached("SELECT id FROM vectors WHERE status = 'live' ORDER BY id")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .context("list live vector envs")?;
        let mut live = Vec::with_capacity(ids.len());
        for id in ids {
            live.extend(self.vector(&id)?);
        }
        Ok(live)
    }

    /// A live vector environment: its parameters, last checkpoint and the steps after it.
    pub fn vector(&self, id: &str) -> Result<Option<StoredVector>, StoreError> {
        let row = self
            .connection
            .query_row(
                "SELECT owner, spec, checkpoint FROM vectors WHERE id = ?1 AND status = 'live'",
                [id],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()
            .context("read vector env")?;
        let Some((owner, spec, checkpoint)) = row else {
            return Ok(None);
        };
        let corrupt = |source| StoreError::Corrupt {
            what: format!("vector env {id}"),
            source,
        };
        let spec: VectorSpec = serde_json::from_str(&spec).map_err(corrupt)?;
        let checkpoint = checkpoint
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(corrupt)?;
        let steps = self
            .connection
            .prepare_cached(
                "SELECT seq, actions FROM vector_steps WHERE vector_id = ?1 ORDER BY seq",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([id], |row| {
                        Ok((
                            u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default(),
                            unpack_actions(&row.get::<_, Vec<u8>>(1)?),
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()
            })
            .context("read vector steps")?;
        Ok(Some(StoredVector {
            id: id.to_string(),
            owner,
            spec,
            checkpoint,
            steps,
        }))
    }

    /// The status of an episode (`live`, `closed`, `expired`, `failed`), if it exists.
    pub fn episode_status(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row("SELECT status FROM episodes WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .context("read episode status")
    }
}

/// Applies one event inside a transaction.
fn apply(transaction: &rusqlite::Transaction<'_>, event: &StoreEvent) -> Result<(), StoreError> {
    match event {
        StoreEvent::EpisodeCreated { id, owner, mode } => {
            transaction
                .prepare_cached("INSERT INTO episodes (id, owner, mode) VALUES (?1, ?2, ?3)")
                .and_then(|mut statement| statement.execute(params![id, owner, mode]))
                .context("insert episode")?;
        }
        StoreEvent::EpisodeReset {
            id,
            seq,
            mode,
            header,
        } => {
            insert_event(transaction, id, *seq, "reset", &to_json(header))?;
            transaction
                .prepare_cached("UPDATE episodes SET mode = ?2 WHERE id = ?1")
                .and_then(|mut statement| statement.execute(params![id, mode]))
                .context("update episode mode")?;
        }
        StoreEvent::EpisodeStep { id, seq, step } => {
            insert_event(transaction, id, *seq, "step", &to_json(step))?;
        }
        StoreEvent::EpisodeEnded { id, reason } => {
            transaction
                .prepare_cached(
                    "UPDATE episodes SET status = ?2, ended_at = unixepoch() WHERE id = ?1",
                )
                .and_then(|mut statement| statement.execute(params![id, reason]))
                .context("end episode")?;
        }
        StoreEvent::VectorCreated { id, owner, spec } => {
            transaction
                .prepare_cached("INSERT INTO vectors (id, owner, spec) VALUES (?1, ?2, ?3)")
                .and_then(|mut statement| statement.execute(params![id, owner, to_json(spec)]))
                .context("insert vector env")?;
        }
        StoreEvent::VectorStep { id, seq, actions } => {
            transaction
                .prepare_cached(
                    "INSERT INTO vector_steps (vector_id, seq, actions) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![id, seq_value(*seq), pack_actions(actions)])
                })
                .context("insert vector step")?;
        }
        StoreEvent::VectorCheckpoint {
            id,
            seq,
            checkpoint,
        } => {
            transaction
                .prepare_cached(
                    "UPDATE vectors SET checkpoint_seq = ?2, checkpoint = ?3 WHERE id = ?1",
                )
                .and_then(|mut statement| {
                    statement.execute(params![id, seq_value(*seq), to_json(checkpoint)])
                })
                .context("write vector checkpoint")?;
            transaction
                .prepare_cached("DELETE FROM vector_steps WHERE vector_id = ?1 AND seq <= ?2")
                .and_then(|mut statement| statement.execute(params![id, seq_value(*seq)]))
                .context("fold vector steps into the checkpoint")?;
        }
        StoreEvent::VectorEnded { id, reason } => {
            transaction
                .prepare_cached(
                    "UPDATE vectors SET status = ?2, ended_at = unixepoch() WHERE id = ?1",
                )
                .and_then(|mut statement| statement.execute(params![id, reason]))
                .context("end vector env")?;
            transaction
                .prepare_cached("DELETE FROM vector_steps WHERE vector_id = ?1")
                .and_then(|mut statement| statement.execute([id]))
                .context("drop vector steps")?;
        }
    }
    Ok(())
}

fn insert_event(
    transaction: &rusqlite::Transaction<'_>,
    id: &str,
    seq: u64,
    kind: &str,
    body: &str,
) -> Result<(), StoreError> {
    transaction
        .prepare_cached("INSERT INTO events (episode_id, seq, kind, body) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut statement| statement.execute(params![id, seq_value(seq), kind, body]))
        .context("append event")?;
    Ok(())
}

/// A sequence number as SQLite's signed integer.
fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Action vectors are stored as little-endian `u32`s.
fn pack_actions(actions: &[u32]) -> Vec<u8> {
    actions
        .iter()
        .flat_map(|action| action.to_le_bytes())
        .collect()
}

fn unpack_actions(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect()
}

/// A record as JSON; the store's records are plain structs of strings and numbers, which always
/// serialise.
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;

    fn header() -> LogHeader {
        LogHeader::new("case-a".into(), 7, EpisodeOptions::default())
    }

    #[test]
    fn an_episode_log_round_trips_from_its_last_reset() {
        let mut store = Store::in_memory().expect("open");
        let step = |seq, turn| StoreEvent::EpisodeStep {
            id: "ep1".into(),
            seq,
            step: LogStep::new(
                turn,
                Action::Ask {
                    text: "pain?".into(),
                },
                format!("answer {turn}"),
                None,
            ),
        };
        store
            .commit(&[
                StoreEvent::EpisodeCreated {
                    id: "ep1".into(),
                    owner: "alice".into(),
                    mode: "text".into(),
                },
                StoreEvent::EpisodeReset {
                    id: "ep1".into(),
                    seq: 0,
                    mode: "text".into(),
                    header: header(),
                },
                step(1, 1),
                StoreEvent::EpisodeReset {
                    id: "ep1".into(),
                    seq: 2,
                    mode: "discrete".into(),
                    header: header(),
                },
                step(3, 1),
                step(4, 2),
            ])
            .expect("commit");
        let live = store.live_episodes().expect("read");
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].mode, "discrete");
        assert_eq!(live[0].last_seq, 4);
        assert_eq!(live[0].log.steps.len(), 2);
        assert_eq!(live[0].log.steps[1].response, "answer 2");
        store
            .commit(&[StoreEvent::EpisodeEnded {
                id: "ep1".into(),
                reason: "closed",
            }])
            .expect("commit");
        assert!(store.live_episodes().expect("read").is_empty());
        assert_eq!(
            store.episode_status("ep1").expect("read").as_deref(),
            Some("closed")
        );
    }

    #[test]
    fn a_failed_transaction_leaves_nothing_behind() {
        let mut store = Store::in_memory().expect("open");
        let created = StoreEvent::EpisodeCreated {
            id: "ep1".into(),
            owner: "alice".into(),
            mode: "text".into(),
        };
        store
            .commit(std::slice::from_ref(&created))
            .expect("commit");
        let reset = StoreEvent::EpisodeReset {
            id: "ep1".into(),
            seq: 0,
            mode: "text".into(),
            header: header(),
        };
        // The duplicate creation fails, so the reset in the same transaction is rolled back too.
        assert!(store.commit(&[reset, created]).is_err());
        assert!(store.episode_log("ep1").expect("read").is_none());
    }

    #[test]
    fn vector_checkpoints_fold_earlier_steps() {
        let mut store = Store::in_memory().expect("open");
        let spec = VectorSpec {
            count: 2,
            seed: 3,
            options: EpisodeOptions::default(),
        };
        let step = |seq| StoreEvent::VectorStep {
            id: "vec1".into(),
            seq,
            actions: vec![seq as u32, 70_000],
        };
        store
            .commit(&[
                StoreEvent::VectorCreated {
                    id: "vec1".into(),
                    owner: "bob".into(),
                    spec: spec.clone(),
                },
                step(1),
                step(2),
                StoreEvent::VectorCheckpoint {
                    id: "vec1".into(),
                    seq: 2,
                    checkpoint: VectorCheckpoint {
                        episodes: vec![(3, vec![1, 2]), (4, vec![])],
                    },
                },
                step(3),
            ])
            .expect("commit");
        let live = store.live_vectors().expect("read");
        assert_eq!(live[0].spec, spec);
        assert_eq!(live[0].steps, vec![(3, vec![3, 70_000])]);
        assert_eq!(
            live[0].checkpoint.as_ref().map(|c| c.episodes.len()),
            Some(2)
        );
    }
}
