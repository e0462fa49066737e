//! The response cache: replies keyed by the full request, in SQLite, so re-runs are reproducible and
//! free.
//!
//! The key is the SHA-256 of the canonical request: the endpoint's base URL and the exact JSON body
//! sent (model, messages, temperature, max_tokens, response_format). Any change to any of them is
//! a different key. Rows live in the `llm_cache` table, which can share a file with the
//! [`Store`](crate::store::Store): the cache only creates its own table and leaves the store's schema
//! version alone. The file is opened as the store opens its own (WAL, `synchronous=NORMAL`, a
//! five-second busy timeout).
//!
//! One connection behind a mutex serves every task; each lookup or insert runs on tokio's blocking
//! pool so no runtime thread waits on the disk. Two identical requests made at the same moment both
//! reach the server; the later reply overwrites the earlier one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::usage::Usage;

/// Why the response cache failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The file exists but is not a SQLite database.
    #[error("LLM cache {}: the file is not a SQLite database", path.display())]
    NotSqlite {
        /// The file.
        path: PathBuf,
    },
    /// SQLite refused an operation.
    #[error("LLM cache {}: {context}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The blocking task running a cache operation did not finish.
    #[error("LLM cache {}: the worker task failed: {source}", path.display())]
    Worker {
        /// The file.
        path: PathBuf,
        /// Tokio's error.
        source: tokio::task::JoinError,
    },
}

/// A cached reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedReply {
    /// The reply text.
    pub(crate) content: String,
    /// What the reply cost when it was first made.
    pub(crate) usage: Usage,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    connection: Mutex<Connection>,
}

/// The response cache; cheap to clone, every clone shares one connection.
#[derive(Debug, Clone)]
pub struct LlmCache {
    inner: Arc<Inner>,
}

/// The cache key of a canonical request: lowercase hex SHA-256.
pub(crate) fn cache_key(canonical_request: &str) -> String {
    format!("{:x}", Sha256::digest(canonical_request.as_bytes()))
}

/// SQLite integers are signed; token counts never come near the limit.
fn to_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A count read back from SQLite (never negative, as the cache writes it).
fn to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

impl LlmCache {
    /// Opens (creating if needed) the cache in the SQLite file at `path`, which may be the store's.
    pub fn open(path: &Path) -> Result<LlmCache, CacheError> {
        let sqlite = |context: &'static str| {
            move |source: rusqlite::Error| {
                if source.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
                    CacheError::NotSqlite {
                        path: path.to_path_buf(),
                    }
                } else {
                    CacheError::Sqlite {
                        path: path.to_path_buf(),
                        context,
                        source,
                    }
                }
            }
        };
        let connection = Connection::open(path).map_err(sqlite("open"))?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite("set busy timeout"))?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite("enable WAL"))?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite("set synchronous"))?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS llm_cache (
                     key TEXT PRIMARY KEY,
                     request TEXT NOT NULL,
                     reply TEXT NOT NULL,
                     prompt_tokens INTEGER NOT NULL,
                     completion_tokens INTEGER NOT NULL,
                     created_at INTEGER NOT NULL DEFAULT (unixepoch())
                 ) WITHOUT ROWID;",
            )
            .map_err(sqlite("create the llm_cache table"))?;
        Ok(LlmCache {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                connection: Mutex::new(connection),
            }),
        })
    }

    /// Runs `operation` on the connection on tokio's blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        context: &'static str,
        operation: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, CacheError> {
        let inner = Arc::clone(&self.inner);
        let result = tokio::task::spawn_blocking(move || {
            // A panic cannot leave a SQLite connection half-changed, so a poisoned lock is still good.
            let connection = inner
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            operation(&connection)
        })
        .await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(CacheError::Sqlite {
                path: self.inner.path.clone(),
                context,
                source,
            }),
            Err(source) => Err(CacheError::Worker {
                path: self.inner.path.clone(),
                source,
            }),
        }
    }

    /// The reply cached under `key`, if any.
    pub(crate) async fn get(&self, key: String) -> Result<Option<CachedReply>, CacheError> {
        self.run("look up a reply", move |connection| {
            connection
                .prepare_cached(
                    "SELECT reply, prompt_tokens, completion_tokens FROM llm_cache WHERE key = ?1",
                )?
                .query_row([key], |row| {
                    Ok(CachedReply {
                        content: row.get(0)?,
                        usage: Usage {
                            prompt_tokens: to_u64(row.get(1)?),
                            completion_tokens: to_u64(row.get(2)?),
                        },
                    })
                })
                .optional()
        })
        .await
    }

    /// Stores `reply` to `request` under `key`, replacing any earlier reply.
    pub(crate) async fn put(
        &self,
        key: String,
        request: String,
        reply: CachedReply,
    ) -> Result<(), CacheError> {
        self.run("store a reply", move |connection| {
            connection
                .prepare_cached(
                    "INSERT OR REPLACE INTO llm_cache
                         (key, request, reply, prompt_tokens, completion_tokens)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    key,
                    request,
                    reply.content,
                    to_i64(reply.usage.prompt_tokens),
                    to_i64(reply.usage.completion_tokens)
                ])
                .map(drop)
        })
        .await
    }

    /// How many replies the cache holds.
    pub async fn len(&self) -> Result<u64, CacheError> {
        self.run("count replies", |connection| {
            connection.query_row("SELECT count(*) FROM llm_cache", [], |row| {
                row.get(0).map(to_u64)
            })
        })
        .await
    }

    /// Whether the cache holds no reply.
    pub async fn is_empty(&self) -> Result<bool, CacheError> {
        Ok(self.len().await? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sha256_hex() {
        assert_eq!(
            cache_key(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(cache_key("a"), cache_key("b"));
    }

    #[tokio::test]
    async fn replies_round_trip_and_replace() {
        let directory = tempfile::tempdir().expect("temp dir");
        let cache = LlmCache::open(&directory.path().join("cache.sqlite")).expect("opens");
        assert!(cache.is_empty().await.expect("counts"));
        assert_eq!(cache.get("k".into()).await.expect("looks up"), None);
        let reply = |content: &str| CachedReply {
            content: content.to_string(),
            usage: Usage {
                prompt_tokens: 3,
                completion_tokens: 4,
            },
        };
        cache
            .put("k".into(), "{}".into(), reply("first"))
            .await
            .expect("stores");
        cache
            .put("k".into(), "{}".into(), reply("second"))
            .await
            .expect("replaces");
        assert_eq!(
            cache.get("k".into()).await.expect("looks up"),
            Some(reply("second"))
        );
        assert_eq!(cache.len().await.expect("counts"), 1);
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_named() {
        let directory = tempfile::tempdir().expect("temp dir");
        let path = directory.path().join("notes.txt");
        std::fs::write(
            &path,
            "these are not the pages you are looking for\n".repeat(100),
        )
        .expect("writes");
        let error = LlmCache::open(&path).expect_err("not SQLite");
        assert!(matches!(error, CacheError::NotSqlite { .. }), "{error}");
        assert!(error.to_string().contains("notes.txt"), "{error}");
    }

    #[test]
    fn the_cache_shares_a_file_with_the_store() {
        let directory = tempfile::tempdir().expect("temp dir");
        let path = directory.path().join("store.sqlite");
        drop(crate::store::Store::open(&path, crate::store::Durability::Process).expect("store"));
        drop(LlmCache::open(&path).expect("cache beside the store"));
        drop(crate::store::Store::open(&path, crate::store::Durability::Process).expect("reopens"));
    }
}
