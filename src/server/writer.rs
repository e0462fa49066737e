//! The store writer: one thread that owns the SQLite connection and commits events in groups.
//!
//! Shards send [`WriteJob`]s: events, and the replies that must wait for them. The writer drains
//! every job waiting, commits all their events in one transaction (group commit), and only then sends
//! the replies, so an answered step is always in the store. If a commit fails, every reply in the
//! group becomes an `internal` error and the episodes it touched are rebuilt from what the store
//! holds, so memory never runs ahead of the log.

use std::sync::mpsc::{Receiver, Sender};

use tokio::sync::oneshot;

use super::error::{ApiError, JsonBody};
use super::shard::{Command, StepAnswer};
use crate::store::{Store, StoreEvent};

/// A reply waiting on a commit.
pub(crate) enum Completion {
    /// A single JSON answer.
    Json(
        oneshot::Sender<Result<JsonBody, ApiError>>,
        Result<JsonBody, ApiError>,
    ),
    /// The answers of a step request.
    Steps(oneshot::Sender<Vec<StepAnswer>>, Vec<StepAnswer>),
}

impl Completion {
    /// Sends the answer.
    fn send(self) {
        match self {
            Completion::Json(reply, answer) => {
                let _ = reply.send(answer);
            }
            Completion::Steps(reply, answers) => {
                let _ = reply.send(answers);
            }
        }
    }

    /// Sends `error` instead of every successful answer.
    pub(crate) fn fail(self, error: &ApiError) {
        match self {
            Completion::Json(reply, answer) => {
                let _ = reply.send(answer.and(Err(error.clone())));
            }
            Completion::Steps(reply, answers) => {
                let _ = reply.send(
                    answers
                        .into_iter()
                        .map(|(position, answer)| (position, answer.and(Err(error.clone()))))
                        .collect(),
                );
            }
        }
    }
}

/// What a job changed, to rebuild if its commit fails.
pub(crate) enum Touched {
    /// An episode, by id.
    Episode(String),
    /// A vector environment, by id.
    Vector(String),
}

/// Events to commit and the replies waiting on them.
pub(crate) struct WriteJob {
    /// The shard that sent the job.
    pub(crate) shard: usize,
    /// The events, in order.
    pub(crate) events: Vec<StoreEvent>,
    /// Replies to send once the events are committed.
    pub(crate) completions: Vec<Completion>,
    /// What the events change.
    pub(crate) touched: Vec<Touched>,
}

/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 8192;

/// Commits jobs until every sender is gone. `shards` are used only to rebuild after a failed commit.
pub(crate) fn run(mut store: Store, jobs: &Receiver<WriteJob>, shards: &[Sender<Command>]) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let events: Vec<StoreEvent> = group
            .iter_mut()
            .flat_map(|job| std::mem::take(&mut job.events))
            .collect();
        let committed = if events.is_empty() {
            Ok(())
        } else {
            store.commit(&events)
        };
        match committed {
            Ok(()) => {
                for job in group {
                    job.completions.into_iter().for_each(Completion::send);
                }
            }
            Err(error) => {
                let failure = ApiError::internal(format!(
                    "could not commit {} events: {error}",
                    events.len()
                ));
                for job in group {
                    for completion in job.completions {
                        completion.fail(&failure);
                    }
                    resync(&store, shards, job.shard, job.touched);
                }
            }
        }
    }
}

/// Asks a shard to rebuild what a failed job touched from the store.
fn resync(store: &Store, shards: &[Sender<Command>], shard: usize, touched: Vec<Touched>) {
    let Some(sender) = shards.get(shard) else {
        return;
    };
    for item in touched {
        let command = match item {
            Touched::Episode(id) => Command::ResyncEpisode {
                stored: store.episode_log(&id).ok().flatten(),
                id,
            },
            Touched::Vector(id) => Command::ResyncVector {
                stored: store.vector(&id).ok().flatten(),
                id,
            },
        };
        let _ = sender.send(command);
    }
}
