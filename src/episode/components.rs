//! The components of an episode entity and the engine resource the systems share.
//!
//! One entity is one episode. Its components hold the hidden case, the settings, what has been
//! revealed, the bill, the transcript, the turn budget, the status, its own seeded generator, and the
//! [`Turn`] in flight, which the systems fill stage by stage.

use std::collections::BTreeSet;
use std::sync::Arc;

use bevy_ecs::prelude::*;
use dxsim_gatekeeper::billing::Charge;
use dxsim_gatekeeper::{Case, DisclosureState, Ledger, Money, Resolver};
use rand_chacha::ChaCha8Rng;

use crate::action::Action;
use crate::episode::options::EpisodeOptions;
use crate::episode::step::{Finding, Step};
use crate::judge::{RuleJudge, Verdict};
use crate::patient::RuleBasedPatient;
use crate::patient::bias::ActiveBias;

/// What every system may read: the request resolver and the judge.
#[derive(Resource)]
pub(crate) struct Engine {
    pub(crate) resolver: &'static Resolver<'static>,
    pub(crate) judge: &'static RuleJudge,
}

/// Whether the heavy systems spread episodes over the compute task pool (on for batches).
#[derive(Resource, Clone, Copy)]
pub(crate) struct Parallelism(pub(crate) bool);

/// The hidden case this episode plays, and its opaque handle (worked out once, shown every step).
#[derive(Component)]
pub(crate) struct EpisodeCase(pub(crate) Arc<Case>, pub(crate) Arc<str>);

/// The episode's options and seed.
#[derive(Component)]
pub(crate) struct Settings {
    pub(crate) options: EpisodeOptions,
    pub(crate) seed: u64,
}

/// The patient answering this episode's questions, and the bias it carries, if any.
#[derive(Component)]
pub(crate) struct Patient {
    pub(crate) model: RuleBasedPatient,
    pub(crate) bias: Option<ActiveBias>,
}

/// What the doctor has uncovered so far.
#[derive(Component, Default)]
pub(crate) struct Revealed {
    pub(crate) disclosure: DisclosureState,
    pub(crate) history_items: BTreeSet<usize>,
    /// Exam system id → whether its finding was abnormal.
    pub(crate) system_flags: std::collections::BTreeMap<String, bool>,
    /// Test id → whether its report was abnormal (every test carried out).
    pub(crate) test_flags: std::collections::BTreeMap<String, bool>,
    pub(crate) key_findings: BTreeSet<usize>,
    pub(crate) synthetic: BTreeSet<Arc<str>>,
}

/// The running bill.
#[derive(Component)]
pub(crate) struct Bill(pub(crate) Ledger);

/// One line of the transcript: what was done and what was said back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TranscriptEntry {
    /// The turn number (1-based).
    pub turn: u32,
    /// The action taken.
    pub action: Action,
    /// The observation text it got.
    pub response: String,
    /// A language model's raw reply this turn was built from (an LLM patient's answer), kept so the
    /// episode replays exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_reply: Option<String>,
}

/// Everything said and done, in order.
#[derive(Component, Default)]
pub(crate) struct Transcript(pub(crate) Vec<TranscriptEntry>);

/// Turns taken and the limits.
#[derive(Component)]
pub(crate) struct Budget {
    pub(crate) turn: u32,
    pub(crate) turn_limit: u32,
    pub(crate) cap: Option<Money>,
}

/// Whether the episode is still going.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Running,
    Terminated,
    Truncated,
}

/// The episode's own generator, seeded from its seed, so results never depend on scheduling.
#[derive(Component)]
pub(crate) struct EpisodeRng(pub(crate) ChaCha8Rng);

/// Which stage handles the action in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Route {
    #[default]
    Idle,
    Patient,
    Gatekeeper,
    Judge,
}

/// The turn in flight, filled by the systems in order and emptied by [`crate::episode::Env`].
#[derive(Component, Default)]
pub(crate) struct Turn {
    pub(crate) action: Option<Action>,
    /// A model's reply supplied with the action (an LLM patient's answer to it).
    pub(crate) model_reply: Option<String>,
    pub(crate) route: Route,
    pub(crate) findings: Vec<Finding>,
    /// What is said back this turn, one line per answer, finding or report.
    pub(crate) text: String,
    /// Lines written into `text` so far (a line may be empty).
    pub(crate) lines: usize,
    pub(crate) billable: Vec<(String, Money)>,
    pub(crate) charges: Vec<Charge>,
    pub(crate) verdict: Option<Verdict>,
    pub(crate) new_key_findings: usize,
    pub(crate) reward: f64,
    pub(crate) output: Option<Step>,
}

impl Turn {
    /// Starts a new line of the turn's text and returns the text to write it into.
    pub(crate) fn new_line(&mut self) -> &mut String {
        if self.lines > 0 {
            self.text.push('\n');
        }
        self.lines += 1;
        &mut self.text
    }
}
