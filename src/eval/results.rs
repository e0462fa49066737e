//! Where a run's results live: `results.sqlite` (the source of truth: one row per finished episode,
//! keyed by the episode's key, so a record can never be stored twice) and `episodes.jsonl` (the same
//! records as JSON lines, appended after each commit for tools that read files).
//!
//! A record is committed to SQLite before its line is appended, so a killed run loses only the
//! episodes in flight; on `--resume`, `episodes.jsonl` is rewritten from the store, repairing a line
//! torn by the kill.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::record::EpisodeRecord;
use super::report::EPISODES_FILE;

/// The store's file name inside a run directory.
pub const STORE_FILE: &str = "results.sqlite";

/// A failure reading or writing a run's results.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// SQLite refused (not a database, disk full, locked by another run…).
    #[error("{path}: {source}")]
    Sqlite {
        /// The store's path.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// Writing `episodes.jsonl` failed.
    #[error("{path}: {source}")]
    Io {
        /// The file's path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A stored record that does not parse (written by another version?).
    #[error("{path}: the record of `{key}` does not parse: {source}")]
    Corrupt {
        /// The store's path.
        path: PathBuf,
        /// The episode.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
}

/// The results of one run directory, open for appending.
#[derive(Debug)]
pub struct ResultStore {
    connection: Connection,
    store_path: PathBuf,
    jsonl_path: PathBuf,
    jsonl: BufWriter<File>,
}

impl ResultStore {
    /// Opens (creating if needed) the results of the run in `dir`.
    pub fn open(dir: &Path) -> Result<ResultStore, ResultsError> {
        let store_path = dir.join(STORE_FILE);
        let sqlite = |source| ResultsError::Sqlite {
            path: store_path.clone(),
            source,
        };
        let connection = Connection::open(&store_path).map_err(sqlite)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS episodes (
                    seq INTEGER PRIMARY KEY,
                    key TEXT NOT NULL UNIQUE,
                    record TEXT NOT NULL
                );",
            )
            .map_err(sqlite)?;
        let jsonl_path = dir.join(EPISODES_FILE);
        let jsonl = open_append(&jsonl_path)?;
        Ok(ResultStore {
            connection,
            store_path,
            jsonl_path,
            jsonl,
        })
    }

    /// The keys of every stored episode.
    pub fn keys(&self) -> Result<HashSet<String>, ResultsError> {
        let sqlite = |source| ResultsError::Sqlite {
            path: self.store_path.clone(),
            source,
        };
        let mut statement = self
            .connection
            .prepare("SELECT key FROM episodes")
            .map_err(sqlite)?;
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(sqlite)?
            .collect::<Result<HashSet<String>, _>>()
            .map_err(sqlite)
    }

    /// Every stored record, in the order they finished.
    pub fn records(&self) -> Result<Vec<EpisodeRecord>, ResultsError> {
        let sqlite = |source| ResultsError::Sqlite {
            path: self.store_path.clone(),
            source,
        };
        let mut statement = self
            .connection
            .prepare("SELECT key, record FROM episodes ORDER BY seq")
            .map_err(sqlite)?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(sqlite)?;
        let mut records = Vec::new();
        for row in rows {
            let (key, text) = row.map_err(sqlite)?;
            let record = serde_json::from_str(&text).map_err(|source| ResultsError::Corrupt {
                path: self.store_path.clone(),
                key,
                source,
            })?;
            records.push(record);
        }
        Ok(records)
    }

    /// Rewrites `episodes.jsonl` from the store (written aside, then renamed into place), so the
    /// file holds exactly one line per stored episode.
    pub fn rewrite_jsonl(&mut self) -> Result<(), ResultsError> {
        let records = self.records()?;
        let aside = self.jsonl_path.with_extension("jsonl.tmp");
        let io = |source| ResultsError::Io {
            path: aside.clone(),
            source,
        };
        let mut out = BufWriter::new(File::create(&aside).map_err(io)?);
        for record in &records {
            write_line(&mut out, record).map_err(io)?;
        }
        out.flush().map_err(io)?;
        out.get_ref().sync_all().map_err(io)?;
        std::fs::rename(&aside, &self.jsonl_path).map_err(io)?;
        self.jsonl = open_append(&self.jsonl_path)?;
        Ok(())
    }

    /// Commits `records` in one transaction, then appends them to `episodes.jsonl`. A record whose key
    /// is already stored is skipped, never duplicated. Returns how many were new.
    pub fn commit(&mut self, records: &[EpisodeRecord]) -> Result<usize, ResultsError> {
        let sqlite = |source| ResultsError::Sqlite {
            path: self.store_path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        let mut fresh = Vec::with_capacity(records.len());
        {
            let mut insert = transaction
                .prepare_cached("INSERT OR IGNORE INTO episodes (key, record) VALUES (?1, ?2)")
                .map_err(sqlite)?;
            for record in records {
                let text =
                    serde_json::to_string(record).map_err(|source| ResultsError::Corrupt {
                        path: self.store_path.clone(),
                        key: record.key.clone(),
                        source,
                    })?;
                if insert.execute(params![record.key, text]).map_err(sqlite)? == 1 {
                    fresh.push(record);
                }
            }
        }
        transaction.commit().map_err(sqlite)?;
        let io = |source| ResultsError::Io {
            path: self.jsonl_path.clone(),
            source,
        };
        for record in &fresh {
            write_line(&mut self.jsonl, record).map_err(io)?;
        }
        self.jsonl.flush().map_err(io)?;
        Ok(fresh.len())
    }
}

fn open_append(path: &Path) -> Result<BufWriter<File>, ResultsError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(BufWriter::new)
        .map_err(|source| ResultsError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn write_line(out: &mut impl Write, record: &EpisodeRecord) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
