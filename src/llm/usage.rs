//! Token usage, accumulated per episode and role.
//!
//! Every call an [`EndpointClient`](super::EndpointClient) finishes is recorded in the clients'
//! shared [`UsageLedger`]: a call answered by the server adds its prompt and completion tokens; a call
//! answered from the response cache counts as a cached call and adds no tokens; a call that failed
//! counts as a failure. Retries are counted whichever way the call ended.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::config::Role;

/// The tokens one reply cost, as the server reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens in the reply.
    pub completion_tokens: u64,
}

/// Counts for one episode and role, or any sum of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCounts {
    /// Calls the server answered.
    pub calls: u64,
    /// Calls answered from the response cache (no tokens spent).
    pub cached_calls: u64,
    /// Calls that ended in an error.
    pub failed_calls: u64,
    /// Attempts repeated after a 429, a 5xx, a timeout or a dropped connection.
    pub retries: u64,
    /// Prompt tokens of the calls the server answered.
    pub prompt_tokens: u64,
    /// Completion tokens of the calls the server answered.
    pub completion_tokens: u64,
}

impl UsageCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &UsageCounts) {
        self.calls += other.calls;
        self.cached_calls += other.cached_calls;
        self.failed_calls += other.failed_calls;
        self.retries += other.retries;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }

    /// Prompt and completion tokens together.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// One episode's usage: per role and in total. This is what an episode record keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeUsage {
    /// Counts per role; a role that made no call is absent.
    pub roles: BTreeMap<Role, UsageCounts>,
    /// The sum over roles.
    pub total: UsageCounts,
}

impl EpisodeUsage {
    fn from_roles(roles: BTreeMap<Role, UsageCounts>) -> EpisodeUsage {
        let mut total = UsageCounts::default();
        for counts in roles.values() {
            total.add(counts);
        }
        EpisodeUsage { roles, total }
    }
}

/// Thread-safe accumulation of usage, keyed by episode id and role.
#[derive(Debug, Default)]
pub struct UsageLedger {
    episodes: Mutex<HashMap<String, BTreeMap<Role, UsageCounts>>>,
}

impl UsageLedger {
    /// An empty ledger.
    pub fn new() -> UsageLedger {
        UsageLedger::default()
    }

    /// Counters cannot be left half-updated by a panic, so a poisoned lock is still good.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<Role, UsageCounts>>> {
        self.episodes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, episode: &str, role: Role, change: impl FnOnce(&mut UsageCounts)) {
        let mut episodes = self.lock();
        let roles = match episodes.get_mut(episode) {
            Some(roles) => roles,
            None => episodes.entry(episode.to_string()).or_default(),
        };
        change(roles.entry(role).or_default());
    }

    /// Records a call the server answered, after `retries` repeated attempts.
    pub fn record_call(&self, episode: &str, role: Role, usage: Usage, retries: u32) {
        self.update(episode, role, |counts| {
            counts.calls += 1;
            counts.retries += u64::from(retries);
            counts.prompt_tokens += usage.prompt_tokens;
            counts.completion_tokens += usage.completion_tokens;
        });
    }

    /// Records a call answered from the response cache.
    pub fn record_cached(&self, episode: &str, role: Role) {
        self.update(episode, role, |counts| counts.cached_calls += 1);
    }

    /// Records a call that ended in an error, after `retries` repeated attempts.
    pub fn record_failure(&self, episode: &str, role: Role, retries: u32) {
        self.update(episode, role, |counts| {
            counts.failed_calls += 1;
            counts.retries += u64::from(retries);
        });
    }

    /// One episode's usage so far (empty if it made no call).
    pub fn snapshot_for(&self, episode: &str) -> EpisodeUsage {
        let roles = self.lock().get(episode).cloned().unwrap_or_default();
        EpisodeUsage::from_roles(roles)
    }

    /// Removes an episode from the ledger and returns its usage, for an episode that has ended.
    pub fn take_episode(&self, episode: &str) -> EpisodeUsage {
        let roles = self.lock().remove(episode).unwrap_or_default();
        EpisodeUsage::from_roles(roles)
    }

    /// Usage per role, summed over the episodes in the ledger.
    pub fn totals_by_role(&self) -> BTreeMap<Role, UsageCounts> {
        let mut totals: BTreeMap<Role, UsageCounts> = BTreeMap::new();
        for roles in self.lock().values() {
            for (role, counts) in roles {
                totals.entry(*role).or_default().add(counts);
            }
        }
        totals
    }

    /// Usage summed over every episode and role in the ledger.
    pub fn totals(&self) -> UsageCounts {
        let mut total = UsageCounts::default();
        for counts in self.totals_by_role().values() {
            total.add(counts);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_per_episode_and_role() {
        let ledger = UsageLedger::new();
        let usage = |prompt_tokens, completion_tokens| Usage {
            prompt_tokens,
            completion_tokens,
        };
        ledger.record_call("e1", Role::Doctor, usage(10, 2), 1);
        ledger.record_call("e1", Role::Doctor, usage(5, 1), 0);
        ledger.record_cached("e1", Role::Doctor);
        ledger.record_call("e1", Role::Patient, usage(7, 3), 0);
        ledger.record_failure("e2", Role::Judge, 4);

        let e1 = ledger.snapshot_for("e1");
        assert_eq!(
            e1.roles[&Role::Doctor],
            UsageCounts {
                calls: 2,
                cached_calls: 1,
                failed_calls: 0,
                retries: 1,
                prompt_tokens: 15,
                completion_tokens: 3,
            }
        );
        assert_eq!(e1.total.calls, 3);
        assert_eq!(e1.total.total_tokens(), 28);
        assert!(!e1.roles.contains_key(&Role::Judge));

        let totals = ledger.totals();
        assert_eq!(
            (totals.calls, totals.failed_calls, totals.retries),
            (3, 1, 5)
        );
        assert_eq!(ledger.totals_by_role()[&Role::Judge].failed_calls, 1);

        assert_eq!(ledger.take_episode("e1"), e1);
        assert_eq!(ledger.snapshot_for("e1"), EpisodeUsage::default());
        assert_eq!(ledger.totals().calls, 0);
    }

    #[test]
    fn episode_usage_serializes_with_role_names() {
        let ledger = UsageLedger::new();
        ledger.record_cached("e", Role::Gatekeeper);
        let json = serde_json::to_value(ledger.snapshot_for("e")).expect("serializes");
        assert_eq!(json["roles"]["gatekeeper"]["cached_calls"], 1);
        let back: EpisodeUsage = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, ledger.snapshot_for("e"));
    }
}
