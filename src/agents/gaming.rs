//! Adversarial doctors (DESIGN.md §5, "the score cannot be gamed"): each answers at its first turn,
//! from nothing but what the reset observation shows (a specialty, if any name of one can be found in
//! it) and the public list of the library's diagnoses, with
//! an answer built to collect reward without diagnosing: a list, a negation, a category, a guess.
//! When the environment refuses the answer (a list is not one final diagnosis) the doctor says it
//! again, so it runs out of turns. `dxsim eval --agent gaming:STRATEGY` plays them; the suite checks
//! that each scores at chance or below.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::Doctor;
use crate::action::Action;
use crate::episode::Observation;

/// How a gaming doctor builds its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GamingStrategy {
    /// Every diagnosis of the specialty the observation gives away (the library's, if none), as a
    /// comma list.
    SpecialtyList,
    /// Every diagnosis of the library, as a comma list.
    LibraryList,
    /// Every diagnosis of the specialty given away, each "ruled out".
    Negation,
    /// The specialty's name as the diagnosis ("cardiology disease").
    SpecialtyName,
    /// An organ as the diagnosis ("heart disease").
    BodyPart,
    /// "Unknown".
    Unknown,
    /// One diagnosis of the library, drawn by the seed: chance level.
    RandomGuess,
    /// One diagnosis of the specialty given away (of the library, if none), drawn by the seed.
    SpecialtyGuess,
}

impl GamingStrategy {
    /// Every strategy, in the order `dxsim eval` lists them.
    pub const ALL: [GamingStrategy; 8] = [
        GamingStrategy::SpecialtyList,
        GamingStrategy::LibraryList,
        GamingStrategy::Negation,
        GamingStrategy::SpecialtyName,
        GamingStrategy::BodyPart,
        GamingStrategy::Unknown,
        GamingStrategy::RandomGuess,
        GamingStrategy::SpecialtyGuess,
    ];

    /// The strategy's name in an agent spec (`gaming:NAME`).
    pub fn name(self) -> &'static str {
        match self {
            GamingStrategy::SpecialtyList => "specialty-list",
            GamingStrategy::LibraryList => "library-list",
            GamingStrategy::Negation => "negation",
            GamingStrategy::SpecialtyName => "specialty-name",
            GamingStrategy::BodyPart => "body-part",
            GamingStrategy::Unknown => "unknown",
            GamingStrategy::RandomGuess => "random-guess",
            GamingStrategy::SpecialtyGuess => "specialty-guess",
        }
    }
}

impl FromStr for GamingStrategy {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        GamingStrategy::ALL
            .into_iter()
            .find(|strategy| strategy.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = GamingStrategy::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "no gaming strategy `{name}`; choose one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The library's diagnosis names by specialty: what any user can list with `dxsim cases list`.
pub type DiagnosesBySpecialty = Arc<BTreeMap<String, Vec<String>>>;

/// A doctor that plays one gaming strategy.
#[derive(Debug, Clone)]
pub struct GamingDoctor {
    strategy: GamingStrategy,
    diagnoses: DiagnosesBySpecialty,
    rng: ChaCha8Rng,
    answer: Option<String>,
}

impl GamingDoctor {
    /// A doctor playing `strategy` over `diagnoses`, its draws seeded by `seed`.
    pub fn new(
        strategy: GamingStrategy,
        diagnoses: DiagnosesBySpecialty,
        seed: u64,
    ) -> GamingDoctor {
        GamingDoctor {
            strategy,
            diagnoses,
            rng: ChaCha8Rng::seed_from_u64(seed),
            answer: None,
        }
    }

    /// The answer for an episode that gives `specialty` away (if it does).
    fn build(&mut self, specialty: Option<&str>) -> String {
        let all: Vec<&String> = self.diagnoses.values().flatten().collect();
        let shown: Vec<&String> = specialty
            .and_then(|specialty| self.diagnoses.get(specialty))
            .map_or_else(|| all.clone(), |names| names.iter().collect());
        let join = |names: &[&String], separator: &str| {
            names
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
                .join(separator)
        };
        match self.strategy {
            GamingStrategy::SpecialtyList => join(&shown, ", "),
            GamingStrategy::LibraryList => join(&all, ", "),
            GamingStrategy::Negation => shown
                .iter()
                .map(|name| format!("{name} ruled out"))
                .collect::<Vec<_>>()
                .join("; "),
            GamingStrategy::SpecialtyName => format!(
                "{} disease",
                specialty.unwrap_or("internal medicine").replace('_', " ")
            ),
            GamingStrategy::BodyPart => organ_of(specialty.unwrap_or("")).to_string(),
            GamingStrategy::Unknown => "unknown".to_string(),
            GamingStrategy::RandomGuess => all
                .choose(&mut self.rng)
                .map_or_else(|| "unknown".to_string(), |name| (*name).clone()),
            GamingStrategy::SpecialtyGuess => shown
                .choose(&mut self.rng)
                .map_or_else(|| "unknown".to_string(), |name| (*name).clone()),
        }
    }
}

impl GamingDoctor {
    /// The specialty the observation gives away, if any: the first of the library's specialties
    /// whose name appears anywhere in what the doctor received (a field, a label, an id).
    fn infer_specialty(&self, observation: &Observation) -> Option<String> {
        let received = serde_json::to_string(observation)
            .unwrap_or_default()
            .to_lowercase();
        self.diagnoses
            .keys()
            .find(|specialty| {
                received.contains(specialty.as_str())
                    || received.contains(&specialty.replace('_', " "))
            })
            .cloned()
    }
}

/// The organ a specialty is about, as a lay diagnosis.
fn organ_of(specialty: &str) -> &'static str {
    match specialty {
        "cardiology" | "vascular_surgery" => "heart disease",
        "pulmonology" | "critical_care" => "lung disease",
        "neurology" | "psychiatry" | "neurosurgery" | "addiction_medicine" => "brain disease",
        "gastroenterology" | "general_surgery" => "stomach problem",
        "hepatology" => "liver disease",
        "nephrology" | "urology" | "transplant_medicine" => "kidney disease",
        "dermatology" | "allergy_immunology" => "skin disease",
        "hematology" | "oncology" => "blood disease",
        "ophthalmology" => "eye disease",
        "otolaryngology" => "ear problem",
        "orthopedics" | "rheumatology" | "sports_medicine" | "trauma_surgery" => "bone disease",
        "endocrinology" => "gland problem",
        "obstetrics_gynecology" => "womb problem",
        _ => "body problem",
    }
}

impl Doctor for GamingDoctor {
    fn act(&mut self, observation: &Observation) -> Action {
        if self.answer.is_none() {
            let specialty = self.infer_specialty(observation);
            self.answer = Some(self.build(specialty.as_deref()));
        }
        Action::Diagnose {
            diagnosis: self.answer.clone().unwrap_or_default(),
            icd10: None,
        }
    }
}

/// The library's diagnoses by specialty.
pub fn diagnoses_by_specialty(library: &crate::library::CaseLibrary) -> DiagnosesBySpecialty {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for case in library.cases() {
        let names = by.entry(case.specialty.clone()).or_default();
        if !names.contains(&case.diagnosis.name) {
            names.push(case.diagnosis.name.clone());
        }
    }
    Arc::new(by)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_parses_from_its_name() {
        for strategy in GamingStrategy::ALL {
            assert_eq!(strategy.name().parse::<GamingStrategy>(), Ok(strategy));
        }
        assert!("cheat".parse::<GamingStrategy>().is_err());
    }
}
