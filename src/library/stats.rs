//! Library statistics: how the cases spread over specialties, difficulty, hardness, age, sex, setting,
//! clinical review and the train/test split, and what their reference work-ups cost when billed like an
//! episode.

use std::collections::BTreeMap;

use dxsim_gatekeeper::billing::{CostConfig, workup_cost};
use dxsim_gatekeeper::case::Split;
use dxsim_gatekeeper::{Case, Catalogue, Money};
use serde::Serialize;

/// Spread of costs over a set of cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CostSpread {
    /// Cheapest.
    pub min: Money,
    /// Median (the lower middle for an even count).
    pub median: Money,
    /// Mean, rounded to the cent.
    pub mean: Money,
    /// Dearest.
    pub max: Money,
}

impl CostSpread {
    fn of(mut costs: Vec<Money>) -> Option<CostSpread> {
        if costs.is_empty() {
            return None;
        }
        costs.sort_unstable();
        let total: u64 = costs.iter().map(|cost| cost.0).sum();
        Some(CostSpread {
            min: costs[0],
            median: costs[(costs.len() - 1) / 2],
            mean: Money((total as f64 / costs.len() as f64).round() as u64),
            max: costs[costs.len() - 1],
        })
    }
}

/// The library's spread.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryStats {
    /// Number of cases.
    pub cases: usize,
    /// Cases per specialty.
    pub by_specialty: BTreeMap<String, usize>,
    /// Cases per difficulty tier.
    pub by_difficulty: BTreeMap<&'static str, usize>,
    /// Cases marked hard in SDBench's sense (`hard`) and the rest.
    pub by_hardness: BTreeMap<&'static str, usize>,
    /// Cases per kind of setting ([`setting_kind`]).
    pub by_setting: BTreeMap<&'static str, usize>,
    /// Cases with a recorded clinical review and without one.
    pub by_review: BTreeMap<&'static str, usize>,
    /// Cases per sex.
    pub by_sex: BTreeMap<&'static str, usize>,
    /// Cases per age band.
    pub by_age_band: BTreeMap<&'static str, usize>,
    /// Cases per side of the split.
    pub by_split: BTreeMap<&'static str, usize>,
    /// Reference work-up cost (visits and tests, default cost parameters) over all cases.
    pub workup_cost: Option<CostSpread>,
    /// Reference work-up cost per difficulty tier.
    pub workup_cost_by_difficulty: BTreeMap<&'static str, CostSpread>,
}

/// Age bands used in the statistics, by lower bound in years.
const AGE_BANDS: &[(u32, &str)] = &[
    (0, "0-1"),
    (2, "2-11"),
    (12, "12-17"),
    (18, "18-39"),
    (40, "40-64"),
    (65, "65+"),
];

/// The age-band labels, youngest first.
pub fn age_band_labels() -> impl Iterator<Item = &'static str> {
    AGE_BANDS.iter().map(|(_, label)| *label)
}

/// The kind of place a free-text setting names, for the statistics: the first kind whose words the
/// setting contains, in the order of the table (a "paediatric emergency department" is an emergency).
pub fn setting_kind(setting: &str) -> &'static str {
    const KINDS: &[(&str, &[&str])] = &[
        (
            "intensive care",
            &["intensive care", "icu", "critical care", "high dependency"],
        ),
        (
            "emergency",
            &["emergency", "resuscitation", "casualty", "a&e"],
        ),
        ("urgent care", &["urgent care"]),
        (
            "acute assessment unit",
            &[
                "admissions unit",
                "acute medical",
                "assessment unit",
                "triage",
            ],
        ),
        ("ward", &["ward", "inpatient", "day unit"]),
        (
            "primary care",
            &[
                "primary care",
                "general practice",
                "gp surgery",
                "family medicine",
                "home visit",
            ],
        ),
        ("outpatient clinic", &["clinic", "outpatient"]),
    ];
    let setting = setting.to_lowercase();
    KINDS
        .iter()
        .find(|(_, words)| words.iter().any(|word| setting.contains(word)))
        .map_or("other", |(kind, _)| kind)
}

fn age_band(age: u32) -> &'static str {
    AGE_BANDS
        .iter()
        .rev()
        .find(|(lower, _)| age >= *lower)
        .map_or("0-1", |(_, band)| band)
}

/// Computes the spread of `cases`, pricing work-ups with `catalogue` and the default cost parameters.
pub fn library_stats<'a>(
    cases: impl IntoIterator<Item = &'a Case>,
    catalogue: &Catalogue,
) -> LibraryStats {
    let mut stats = LibraryStats {
        cases: 0,
        by_specialty: BTreeMap::new(),
        by_difficulty: BTreeMap::new(),
        by_hardness: BTreeMap::new(),
        by_setting: BTreeMap::new(),
        by_review: BTreeMap::new(),
        by_sex: BTreeMap::new(),
        by_age_band: BTreeMap::new(),
        by_split: BTreeMap::new(),
        workup_cost: None,
        workup_cost_by_difficulty: BTreeMap::new(),
    };
    let mut costs = Vec::new();
    let mut costs_by_difficulty: BTreeMap<&'static str, Vec<Money>> = BTreeMap::new();
    for case in cases {
        stats.cases += 1;
        *stats
            .by_specialty
            .entry(case.specialty.clone())
            .or_default() += 1;
        *stats
            .by_difficulty
            .entry(case.difficulty.as_str())
            .or_default() += 1;
        *stats
            .by_hardness
            .entry(if case.hard { "hard" } else { "not hard" })
            .or_default() += 1;
        *stats
            .by_setting
            .entry(setting_kind(&case.presentation.setting))
            .or_default() += 1;
        *stats
            .by_review
            .entry(if case.provenance.review.is_some() {
                "reviewed"
            } else {
                "not reviewed"
            })
            .or_default() += 1;
        *stats
            .by_sex
            .entry(case.presentation.sex.as_str())
            .or_default() += 1;
        *stats
            .by_age_band
            .entry(age_band(case.presentation.age_years))
            .or_default() += 1;
        *stats
            .by_split
            .entry(Split::of(&case.id).as_str())
            .or_default() += 1;
        let cost = workup_cost(case, catalogue, CostConfig::default()).total;
        costs.push(cost);
        costs_by_difficulty
            .entry(case.difficulty.as_str())
            .or_default()
            .push(cost);
    }
    stats.workup_cost = CostSpread::of(costs);
    stats.workup_cost_by_difficulty = costs_by_difficulty
        .into_iter()
        .filter_map(|(tier, costs)| Some((tier, CostSpread::of(costs)?)))
        .collect();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bands_cover_every_age() {
        assert_eq!(age_band(0), "0-1");
        assert_eq!(age_band(11), "2-11");
        assert_eq!(age_band(17), "12-17");
        assert_eq!(age_band(64), "40-64");
        assert_eq!(age_band(100), "65+");
    }

    #[test]
    fn settings_fall_into_kinds() {
        assert_eq!(setting_kind("paediatric emergency department"), "emergency");
        assert_eq!(setting_kind("Intensive care unit, day 3"), "intensive care");
        assert_eq!(setting_kind("general practice"), "primary care");
        assert_eq!(
            setting_kind("hospital outpatient clinic (urgent referral)"),
            "outpatient clinic"
        );
        assert_eq!(setting_kind("orthopaedic ward, 2 a.m."), "ward");
        assert_eq!(
            setting_kind("early pregnancy assessment unit"),
            "acute assessment unit"
        );
        assert_eq!(setting_kind("a ship's sick bay"), "other");
    }

    #[test]
    fn cost_spread_takes_the_lower_middle() {
        let spread = CostSpread::of(vec![Money(400), Money(100), Money(300), Money(200)])
            .expect("non-empty");
        assert_eq!(
            (spread.min, spread.median, spread.mean, spread.max),
            (Money(100), Money(200), Money(250), Money(400))
        );
        assert!(CostSpread::of(Vec::new()).is_none());
    }
}
