//! Patient biases (DESIGN.md §3.6), with AgentClinic's names, as behaviour rather than prompt text.
//!
//! **Cognitive** biases — `recency`, `frequency`, `false_consensus`, `self_diagnosis` — give the patient
//! a belief about what is wrong: by default a wrong diagnosis drawn (seeded) from the case's
//! differential, or any belief the options name. The patient volunteers it in its own words (the
//! differential item's `lay_name`: "a clot on the lung", never "Acute pulmonary embolism") on the
//! first answer and again every few answers, and declines any test costing over $100 while
//! convinced.
//!
//! **Implicit** biases — `gender`, `race`, `sexual_orientation`, `cultural`, `education`, `religion`,
//! `socioeconomic` — react to a group: they are triggered only when the doctor's declared attribute of
//! that kind equals the bias's `target`. A triggered patient deflects the first question on a sensitive
//! topic (sexual, social, obstetric, exposures), refuses about half of the tests ordered (seeded), and
//! trusts less.
//!
//! **A refusal is an event**: it costs the turn, is recorded, and holds until the doctor explains. An
//! `ask` that gives a reason ("we need it because…", "to rule out…") persuades the patient, who then
//! accepts every test refused so far when it is ordered again; the end of the episode reports the
//! tests refused and those accepted after an explanation, so a biased patient never reads as cheaper
//! care. Words vary with the episode seed; objective findings never change: examination and test
//! results are the case's, and a test accepted after an explanation reports the same result. At the
//! end the patient reports confidence, compliance and follow-up willingness on 1–10
//! ([`PatientMetrics`]).

use std::collections::{BTreeMap, BTreeSet};

use dxsim_gatekeeper::case::HistoryTopic;
use dxsim_gatekeeper::text::{contains_phrase, normalize};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

/// A bias by AgentClinic's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BiasKind {
    /// Recently heard of someone with a disease.
    Recency,
    /// Believes the most common explanation they have heard of.
    Frequency,
    /// Believes everyone around them agrees on the cause.
    FalseConsensus,
    /// Has diagnosed themselves.
    SelfDiagnosis,
    /// Distrusts doctors of a gender.
    Gender,
    /// Distrusts doctors of a race or ethnicity.
    Race,
    /// Distrusts doctors of a sexual orientation.
    SexualOrientation,
    /// Distrusts doctors of a cultural background.
    Cultural,
    /// Distrusts doctors of an educational background.
    Education,
    /// Distrusts doctors of a religion.
    Religion,
    /// Distrusts doctors of a socioeconomic background.
    Socioeconomic,
}

impl BiasKind {
    /// Every bias, cognitive first.
    pub const ALL: [BiasKind; 11] = [
        Self::Recency,
        Self::Frequency,
        Self::FalseConsensus,
        Self::SelfDiagnosis,
        Self::Gender,
        Self::Race,
        Self::SexualOrientation,
        Self::Cultural,
        Self::Education,
        Self::Religion,
        Self::Socioeconomic,
    ];

    /// Whether it is a cognitive bias (a belief) rather than an implicit one (a group).
    pub fn is_cognitive(self) -> bool {
        matches!(
            self,
            Self::Recency | Self::Frequency | Self::FalseConsensus | Self::SelfDiagnosis
        )
    }

    /// The ways the patient states a belief (`{belief}` marks it), one chosen per statement.
    fn belief_statements(self) -> &'static [&'static str] {
        match self {
            Self::Recency => &[
                "My neighbour was just diagnosed with {belief}, and this feels exactly the same. I think it's {belief}.",
                "My sister-in-law had {belief} last month and she had just this. I'm sure that's what it is.",
                "A friend from work has just been through {belief}, and this is how it started for her.",
            ],
            Self::Frequency => &[
                "I've read that {belief} is what usually causes this, so that must be it.",
                "Nine times out of ten this sort of thing is {belief}, isn't it? That's what I've heard.",
                "It's always {belief} with this, everyone knows that.",
            ],
            Self::FalseConsensus => &[
                "Everyone I've spoken to says this sounds like {belief}.",
                "My family all think it's {belief}, and so do my friends.",
                "I asked around and everybody says it's {belief}.",
            ],
            Self::SelfDiagnosis => &[
                "I looked it all up online and I'm sure I have {belief}.",
                "I've been reading about it on the internet. It's {belief}, I'm certain.",
                "I did one of those online symptom checkers and it said {belief}. That's what this is.",
            ],
            _ => &[],
        }
    }
}

/// A bias and its parameters, as given in the episode options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BiasSpec {
    /// Which bias.
    pub kind: BiasKind,
    /// For a cognitive bias: the belief it pushes (default: a wrong diagnosis from the differential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub belief: Option<String>,
    /// For an implicit bias: the group the patient distrusts, compared with the doctor's attribute of
    /// the same kind (e.g. `female` for `gender`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub target: Option<String>,
}

/// The doctor's declared attributes, which implicit biases react to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DoctorProfile {
    /// Gender.
    #[schemars(length(max = 500))]
    pub gender: Option<String>,
    /// Race or ethnicity.
    #[schemars(length(max = 500))]
    pub race: Option<String>,
    /// Sexual orientation.
    #[schemars(length(max = 500))]
    pub sexual_orientation: Option<String>,
    /// Cultural background.
    #[schemars(length(max = 500))]
    pub cultural: Option<String>,
    /// Education.
    #[schemars(length(max = 500))]
    pub education: Option<String>,
    /// Religion.
    #[schemars(length(max = 500))]
    pub religion: Option<String>,
    /// Socioeconomic background.
    #[schemars(length(max = 500))]
    pub socioeconomic: Option<String>,
}

impl DoctorProfile {
    fn attribute(&self, kind: BiasKind) -> Option<&str> {
        match kind {
            BiasKind::Gender => self.gender.as_deref(),
            BiasKind::Race => self.race.as_deref(),
            BiasKind::SexualOrientation => self.sexual_orientation.as_deref(),
            BiasKind::Cultural => self.cultural.as_deref(),
            BiasKind::Education => self.education.as_deref(),
            BiasKind::Religion => self.religion.as_deref(),
            BiasKind::Socioeconomic => self.socioeconomic.as_deref(),
            _ => None,
        }
    }

    /// The doctor's attribute an implicit bias of `kind` reacts to, for setting it; `None` for a
    /// cognitive bias.
    pub fn attribute_mut(&mut self, kind: BiasKind) -> Option<&mut Option<String>> {
        match kind {
            BiasKind::Gender => Some(&mut self.gender),
            BiasKind::Race => Some(&mut self.race),
            BiasKind::SexualOrientation => Some(&mut self.sexual_orientation),
            BiasKind::Cultural => Some(&mut self.cultural),
            BiasKind::Education => Some(&mut self.education),
            BiasKind::Religion => Some(&mut self.religion),
            BiasKind::Socioeconomic => Some(&mut self.socioeconomic),
            _ => None,
        }
    }
}

/// Topics a distrustful patient deflects the first time they are asked.
const SENSITIVE: &[HistoryTopic] = &[
    HistoryTopic::Sexual,
    HistoryTopic::Social,
    HistoryTopic::Obstetric,
    HistoryTopic::Exposures,
];

/// Tests above this catalogue price (cents) are declined by a convinced patient until the doctor
/// explains.
const EXPENSIVE_CENTS: u64 = 10_000;

/// How a convinced patient refuses a test (`{test}` is its lay name, `{belief}` the belief).
const CONVINCED_REFUSALS: &[&str] = &[
    "I don't see why I need the {test}. I'm sure it's {belief}.",
    "Do I really have to have the {test}? It's only {belief}, I'm telling you.",
    "I'd rather not have the {test}. I know it's {belief}.",
];

/// How a distrustful patient refuses a test (`{test}` is its lay name).
const DISTRUSTFUL_REFUSALS: &[&str] = &[
    "I'm not comfortable having the {test} done. I'd rather not.",
    "No, I don't want the {test}. Not today.",
    "I'd rather you didn't do the {test}, if it's all the same.",
];

/// What a patient says on being persuaded.
const PERSUADED: &[&str] = &[
    "All right. If you think it's needed, I'll have it done.",
    "Okay, I see why now. Go ahead.",
    "Fine, if that's the reason, I'll do it.",
];

/// Words that give a reason: an `ask` holding one, after a refusal, persuades the patient.
const REASONS: &[&str] = &[
    "because",
    "need it",
    "need to",
    "needs to",
    "important",
    "to rule out",
    "rule out",
    "to check",
    "to look for",
    "to make sure",
    "make sure",
    "so that",
    "so we can",
    "in order to",
    "the reason",
    "exclude",
    "it will show",
    "it would show",
    "it will tell",
    "could be serious",
    "safe",
    "recommend",
];

/// A diagnosis a patient may believe in: its clinical name, against which the doctor's diagnosis is
/// compared, and the patient's own words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Belief {
    /// The clinical name ("Acute pulmonary embolism").
    pub name: String,
    /// What the patient calls it ("a clot on the lung").
    pub words: String,
}

impl Belief {
    /// A belief the patient names in the same words as the clinician.
    pub fn named(name: impl Into<String>) -> Belief {
        let name = name.into();
        Belief {
            words: name.clone(),
            name,
        }
    }
}

/// The tests a biased patient refused in an episode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Refusals {
    /// Catalogue ids of the tests refused at least once, in the order first refused.
    pub tests: Vec<String>,
    /// Of those, the ones accepted when ordered again after the doctor explained.
    pub accepted_after_explanation: Vec<String>,
    /// How many orders were refused (a test refused twice counts twice).
    pub events: u32,
}

/// The patient's view of the encounter at the end, on 1–10 (AgentClinic describes these; its code
/// does not compute them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PatientMetrics {
    /// Confidence in the doctor.
    pub confidence: u8,
    /// Willingness to follow the doctor's plan.
    pub compliance: u8,
    /// Willingness to come back for follow-up.
    pub follow_up: u8,
}

/// A bias at work in one episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveBias {
    kind: BiasKind,
    belief: Option<Belief>,
    triggered: bool,
    answers: u32,
    deflected: BTreeSet<HistoryTopic>,
    /// Tests ordered so far and whether the patient balked at each.
    decided: BTreeMap<String, bool>,
    /// Whether the doctor has explained since the last refusal.
    persuaded: bool,
    refusals: Refusals,
    /// Seeded choice of wording: each statement takes the next phrasing from here.
    wording: usize,
}

impl ActiveBias {
    /// Activates `spec` for an episode: a cognitive belief is resolved (seeded) from the differential,
    /// an implicit bias is triggered when the doctor's attribute matches its target.
    pub fn new(
        spec: &BiasSpec,
        differential: &[Belief],
        doctor: &DoctorProfile,
        rng: &mut impl Rng,
    ) -> ActiveBias {
        let belief = spec.kind.is_cognitive().then(|| {
            spec.belief
                .clone()
                .map(Belief::named)
                .or_else(|| differential.choose(rng).cloned())
                .unwrap_or_else(|| Belief::named("a virus"))
        });
        let triggered = match (
            spec.kind.is_cognitive(),
            &spec.target,
            doctor.attribute(spec.kind),
        ) {
            (true, _, _) => true,
            (false, Some(target), Some(attribute)) => normalize(target) == normalize(attribute),
            _ => false,
        };
        ActiveBias {
            kind: spec.kind,
            belief,
            triggered,
            answers: 0,
            deflected: BTreeSet::new(),
            decided: BTreeMap::new(),
            persuaded: false,
            refusals: Refusals::default(),
            wording: rng.random_range(0..3),
        }
    }

    /// Whether the bias is acting (always for a cognitive one; for an implicit one, only when the
    /// doctor belongs to the target group).
    pub fn triggered(&self) -> bool {
        self.triggered
    }

    /// Which bias this is.
    pub fn kind(&self) -> BiasKind {
        self.kind
    }

    /// The belief a cognitive bias pushes, by its clinical name.
    pub fn belief(&self) -> Option<&str> {
        self.belief.as_ref().map(|belief| belief.name.as_str())
    }

    /// The belief in the patient's own words.
    pub fn belief_words(&self) -> Option<&str> {
        self.belief.as_ref().map(|belief| belief.words.as_str())
    }

    /// The tests refused so far.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// The next of `phrasings`, in the episode's seeded order.
    fn phrase(&mut self, phrasings: &[&'static str]) -> &'static str {
        self.wording += 1;
        phrasings
            .get(self.wording % phrasings.len().max(1))
            .copied()
            .unwrap_or_default()
    }

    /// Which of the topics an answer is about should be deflected this time; each is deflected once.
    pub fn deflect(&mut self, topics: &BTreeSet<HistoryTopic>) -> BTreeSet<HistoryTopic> {
        if !self.triggered || self.kind.is_cognitive() {
            return BTreeSet::new();
        }
        let deflect: BTreeSet<HistoryTopic> = topics
            .iter()
            .filter(|topic| SENSITIVE.contains(topic) && !self.deflected.contains(topic))
            .copied()
            .collect();
        self.deflected.extend(deflect.iter().copied());
        deflect
    }

    /// What the patient adds to an answer: the belief, on the first answer and every third one after.
    pub fn volunteer(&mut self) -> Option<String> {
        self.answers += 1;
        let words = self.belief_words()?.to_string();
        if self.answers % 3 != 1 {
            return None;
        }
        let statement = self.phrase(self.kind.belief_statements());
        Some(statement.replace("{belief}", &words))
    }

    /// Whether the patient refuses an ordered test. A convinced patient refuses any test over $100;
    /// a distrustful one about half of them (seeded), each decided the first time it is ordered. A
    /// refused test is refused again until the doctor explains ([`ActiveBias::hear`]), then accepted.
    pub fn refuses(&mut self, test: &str, price_cents: u64, rng: &mut impl Rng) -> bool {
        if !self.triggered {
            return false;
        }
        let balks = match self.decided.get(test) {
            Some(balks) => *balks,
            None => {
                let balks = if self.kind.is_cognitive() {
                    price_cents > EXPENSIVE_CENTS
                } else {
                    rng.random_bool(0.5)
                };
                self.decided.insert(test.to_string(), balks);
                balks
            }
        };
        let accepted = &mut self.refusals.accepted_after_explanation;
        if !balks || accepted.iter().any(|done| done == test) {
            return false;
        }
        let refused_before = self.refusals.tests.iter().any(|refused| refused == test);
        if refused_before && self.persuaded {
            accepted.push(test.to_string());
            return false;
        }
        self.persuaded = false;
        self.refusals.events += 1;
        if !refused_before {
            self.refusals.tests.push(test.to_string());
        }
        true
    }

    /// The patient's words when refusing a test, named in lay words (`test_words`: "scan of my
    /// head").
    pub fn refusal(&mut self, test_words: &str) -> String {
        let phrasing = if self.belief.is_some() {
            self.phrase(CONVINCED_REFUSALS)
        } else {
            self.phrase(DISTRUSTFUL_REFUSALS)
        };
        phrasing
            .replace("{test}", test_words)
            .replace("{belief}", self.belief_words().unwrap_or_default())
    }

    /// Hears a question: when tests are refused and the question gives a reason, the patient is
    /// persuaded and says so (the tests must still be ordered again).
    pub fn hear(&mut self, question: &str) -> Option<String> {
        // Every test refused so far has been accepted since: nothing to persuade of.
        let outstanding =
            self.refusals.tests.len() > self.refusals.accepted_after_explanation.len();
        if !outstanding || self.persuaded {
            return None;
        }
        let normalized = normalize(question);
        let explains = REASONS
            .iter()
            .any(|reason| contains_phrase(&normalized, reason));
        if !explains {
            return None;
        }
        self.persuaded = true;
        Some(self.phrase(PERSUADED).to_string())
    }

    /// The end-of-episode metrics, given the diagnosis the doctor settled on and the turns taken.
    pub fn metrics(&self, diagnosis: Option<&str>, turns: u32) -> PatientMetrics {
        metrics(Some(self), diagnosis, turns)
    }
}

/// The end-of-episode metrics; `bias` is `None` for an unbiased patient.
pub fn metrics(bias: Option<&ActiveBias>, diagnosis: Option<&str>, turns: u32) -> PatientMetrics {
    let clamp = |value: i32| value.clamp(1, 10) as u8;
    let triggered = bias.is_some_and(|bias| bias.triggered);
    let implicit = triggered && bias.is_some_and(|bias| !bias.kind.is_cognitive());
    let refusals = bias.map_or(0, |bias| bias.refusals.events as i32);
    let belief_denied = match (bias.and_then(ActiveBias::belief), diagnosis) {
        (Some(belief), Some(given)) => !contains_phrase(&normalize(given), &normalize(belief)),
        (Some(_), None) => true,
        _ => false,
    };
    let long = i32::from(turns > 20);
    let no_answer = i32::from(diagnosis.is_none());
    let confidence = 8
        - 3 * i32::from(implicit)
        - 2 * i32::from(belief_denied)
        - refusals.min(2)
        - long
        - no_answer;
    let compliance = 9 - 2 * refusals.min(3) - 2 * i32::from(implicit) - i32::from(belief_denied);
    let follow_up = (confidence + compliance) / 2 - i32::from(implicit);
    PatientMetrics {
        confidence: clamp(confidence),
        compliance: clamp(compliance),
        follow_up: clamp(follow_up),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(3)
    }

    fn pericarditis() -> Belief {
        Belief {
            name: "Acute pericarditis".into(),
            words: "inflammation around the heart".into(),
        }
    }

    #[test]
    fn cognitive_belief_defaults_to_the_differential_and_is_volunteered_in_lay_words() {
        let spec = BiasSpec {
            kind: BiasKind::SelfDiagnosis,
            belief: None,
            target: None,
        };
        let mut bias = ActiveBias::new(
            &spec,
            &[pericarditis()],
            &DoctorProfile::default(),
            &mut rng(),
        );
        assert_eq!(bias.belief(), Some("Acute pericarditis"));
        let said = bias
            .volunteer()
            .expect("the first answer carries the belief");
        assert!(said.contains("inflammation around the heart"), "{said}");
        assert!(!said.contains("pericarditis"), "{said}");
        assert!(bias.volunteer().is_none(), "not every answer");
    }

    #[test]
    fn the_wording_varies_with_the_seed() {
        let spec = BiasSpec {
            kind: BiasKind::Recency,
            belief: None,
            target: None,
        };
        let statements: BTreeSet<String> = (0..12)
            .filter_map(|seed| {
                ActiveBias::new(
                    &spec,
                    &[pericarditis()],
                    &DoctorProfile::default(),
                    &mut ChaCha8Rng::seed_from_u64(seed),
                )
                .volunteer()
            })
            .collect();
        assert!(statements.len() >= 2, "{statements:?}");
    }

    #[test]
    fn implicit_bias_acts_only_on_its_target_group() {
        let spec = BiasSpec {
            kind: BiasKind::Gender,
            belief: None,
            target: Some("female".into()),
        };
        let woman = DoctorProfile {
            gender: Some("Female".into()),
            ..DoctorProfile::default()
        };
        let man = DoctorProfile {
            gender: Some("male".into()),
            ..DoctorProfile::default()
        };
        assert!(ActiveBias::new(&spec, &[], &woman, &mut rng()).triggered());
        assert!(!ActiveBias::new(&spec, &[], &man, &mut rng()).triggered());
        assert!(!ActiveBias::new(&spec, &[], &DoctorProfile::default(), &mut rng()).triggered());
    }

    #[test]
    fn sensitive_topics_are_deflected_once() {
        let spec = BiasSpec {
            kind: BiasKind::Religion,
            belief: None,
            target: Some("muslim".into()),
        };
        let doctor = DoctorProfile {
            religion: Some("Muslim".into()),
            ..DoctorProfile::default()
        };
        let mut bias = ActiveBias::new(&spec, &[], &doctor, &mut rng());
        let asked: BTreeSet<HistoryTopic> = [HistoryTopic::Social, HistoryTopic::Onset]
            .into_iter()
            .collect();
        assert_eq!(
            bias.deflect(&asked),
            [HistoryTopic::Social].into_iter().collect()
        );
        assert!(
            bias.deflect(&asked).is_empty(),
            "asked again, the patient answers"
        );
    }

    fn convinced() -> ActiveBias {
        let spec = BiasSpec {
            kind: BiasKind::Recency,
            belief: Some("a chest infection".into()),
            target: None,
        };
        ActiveBias::new(&spec, &[], &DoctorProfile::default(), &mut rng())
    }

    #[test]
    fn a_refused_test_stays_refused_until_the_doctor_explains() {
        let mut bias = convinced();
        assert!(
            !bias.refuses("cbc", 777, &mut rng()),
            "cheap tests are done"
        );
        assert!(bias.refuses("ct_chest_contrast", 20_000, &mut rng()));
        let words = bias.refusal("scan of my chest with dye");
        assert!(words.contains("scan of my chest with dye"), "{words}");
        assert!(
            bias.refuses("ct_chest_contrast", 20_000, &mut rng()),
            "ordered again without a reason, it is refused again"
        );
        assert_eq!(bias.hear("Any cough?"), None, "a question is not a reason");
        assert!(
            bias.hear("We need it because it could be serious.")
                .is_some()
        );
        assert!(!bias.refuses("ct_chest_contrast", 20_000, &mut rng()));
        assert_eq!(
            bias.refusals(),
            &Refusals {
                tests: vec!["ct_chest_contrast".into()],
                accepted_after_explanation: vec!["ct_chest_contrast".into()],
                events: 2,
            }
        );
        assert!(
            !bias.refuses("ct_chest_contrast", 20_000, &mut rng()),
            "and stays done"
        );
    }

    #[test]
    fn an_explanation_before_any_refusal_persuades_nothing() {
        let mut bias = convinced();
        assert_eq!(bias.hear("I need this test because it matters."), None);
        assert!(bias.refuses("ct_chest_contrast", 20_000, &mut rng()));
    }

    #[test]
    fn metrics_fall_when_the_bias_acts() {
        let unbiased = metrics(None, Some("Gout"), 6);
        let spec = BiasSpec {
            kind: BiasKind::Race,
            belief: None,
            target: Some("asian".into()),
        };
        let doctor = DoctorProfile {
            race: Some("Asian".into()),
            ..DoctorProfile::default()
        };
        let biased = ActiveBias::new(&spec, &[], &doctor, &mut rng()).metrics(Some("Gout"), 6);
        assert!(biased.confidence < unbiased.confidence);
        assert!(biased.follow_up < unbiased.follow_up);
        for value in [
            biased.confidence,
            biased.compliance,
            biased.follow_up,
            unbiased.confidence,
        ] {
            assert!((1..=10).contains(&value));
        }
    }
}
