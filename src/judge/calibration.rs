//! The judge's calibration set: reference/candidate pairs with the score a clinician gave, and the
//! agreement of a judge with them.
//!
//! `calibration.csv` was written and graded against the rubric by clinician-graders who never saw the
//! judge's rules, before the rules were changed for it. Each pair names its `kind` (exact,
//! abbreviation, eponym, lay, sibling, negation, list, hedge …) and `specialty`. The set is split into
//! halves by a fixed seed ([`SPLIT_SEED`], see [`CalibrationPair::split`]): the rules are tuned on
//! `dev` only, and the judge's figure is its agreement on `test`. It is embedded so
//! `dxsim judge calibrate` works anywhere.

use std::collections::BTreeMap;

use dxsim_gatekeeper::text::stable_hash;
use serde::{Deserialize, Serialize};

use super::{CORRECT_AT, Reference, RuleJudge, Verdict};

const CALIBRATION_CSV: &str = include_str!("calibration.csv");

/// One graded pair.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CalibrationPair {
    /// Reference diagnosis.
    pub reference: String,
    /// Its ICD-10-CM code.
    pub reference_icd10: String,
    /// Accepted synonyms, `|`-separated.
    pub reference_synonyms: String,
    /// What the doctor answered.
    pub candidate: String,
    /// The code the doctor gave, if any.
    pub candidate_icd10: String,
    /// The clinician's score, 1–5.
    pub expected_score: u8,
    /// Why that score.
    pub why: String,
    /// What the pair tests (exact, abbreviation, sibling, negation, list …); empty in older sets.
    #[serde(default)]
    pub kind: String,
    /// The reference's specialty; empty in older sets.
    #[serde(default)]
    pub specialty: String,
}

/// The seed of the dev/test split: fixed, so every run and every reader splits the same way.
pub const SPLIT_SEED: &str = "dxsim-judge-calibration-2026";

/// Which half of a measuring set an entry belongs to: the judge's calibration pairs, the patient's
/// questions ([`crate::patient::measure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The half the rules may be tuned on.
    Dev,
    /// The half the judge is reported on.
    Test,
}

impl Split {
    /// The half a seeded key falls in, by its stable hash: the same on every run and machine.
    pub fn of(key: &str) -> Split {
        if stable_hash(key.as_bytes()) % 2 == 0 {
            Split::Dev
        } else {
            Split::Test
        }
    }
}

/// The embedded calibration set.
///
/// # Panics
/// Never in a released build: the embedded file is parsed by the test suite.
pub fn pairs() -> Vec<CalibrationPair> {
    parse(CALIBRATION_CSV)
        .unwrap_or_else(|error| panic!("the embedded calibration.csv is broken: {error}"))
}

/// Parses a calibration set in the same CSV layout (for held-out sets kept outside the binary).
pub fn parse(text: &str) -> Result<Vec<CalibrationPair>, csv::Error> {
    let pairs: Vec<CalibrationPair> = csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()?;
    Ok(pairs)
}

/// A judge's agreement with the calibration set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Agreement {
    /// Pairs scored.
    pub pairs: usize,
    /// Pairs where correct/incorrect (score ≥ 4) agrees.
    pub binary: usize,
    /// Pairs where the score is identical.
    pub exact: usize,
    /// Pairs where the score is within one point.
    pub within_one: usize,
    /// Counts of (expected, judged) scores, indexed `[expected - 1][judged - 1]`.
    pub confusion: [[usize; 5]; 5],
    /// The pairs where correct/incorrect disagrees, with the judge's verdict.
    pub disagreements: Vec<(CalibrationPair, Verdict)>,
    /// Agreement by the pairs' kind.
    pub by_kind: BTreeMap<String, KindAgreement>,
    /// The judge's verdict on every pair, in the order scored.
    #[serde(skip)]
    pub verdicts: Vec<Verdict>,
}

/// Agreement on the pairs of one kind.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct KindAgreement {
    /// Pairs of the kind.
    pub pairs: usize,
    /// Of which the correct/incorrect call agrees.
    pub binary: usize,
    /// Of which the score is identical.
    pub exact: usize,
}

impl Agreement {
    /// Share of pairs with the same correct/incorrect call.
    pub fn binary_rate(&self) -> f64 {
        self.binary as f64 / self.pairs.max(1) as f64
    }

    /// Share of pairs with the identical score.
    pub fn exact_rate(&self) -> f64 {
        self.exact as f64 / self.pairs.max(1) as f64
    }

    /// Share of pairs scored within one point.
    pub fn within_one_rate(&self) -> f64 {
        self.within_one as f64 / self.pairs.max(1) as f64
    }

    /// Cohen's κ of the correct/incorrect call: agreement beyond what the two raters' base rates give
    /// by chance (1 perfect, 0 chance).
    pub fn binary_kappa(&self) -> f64 {
        let n = self.pairs as f64;
        if n == 0.0 {
            return 0.0;
        }
        let correct = |row: usize, col: usize| {
            (
                usize::from(CORRECT_AT) - 1 <= row,
                usize::from(CORRECT_AT) - 1 <= col,
            )
        };
        let mut cells = [[0.0f64; 2]; 2];
        for (row, counts) in self.confusion.iter().enumerate() {
            for (col, &count) in counts.iter().enumerate() {
                let (expected, judged) = correct(row, col);
                cells[usize::from(expected)][usize::from(judged)] += count as f64;
            }
        }
        let observed = (cells[0][0] + cells[1][1]) / n;
        let expected_yes = (cells[1][0] + cells[1][1]) / n;
        let judged_yes = (cells[0][1] + cells[1][1]) / n;
        let chance = expected_yes * judged_yes + (1.0 - expected_yes) * (1.0 - judged_yes);
        if (1.0 - chance).abs() < f64::EPSILON {
            return 1.0;
        }
        (observed - chance) / (1.0 - chance)
    }

    /// Cohen's κ on the 1–5 scale with quadratic weights: near misses cost less than far ones.
    pub fn weighted_kappa(&self) -> f64 {
        let n = self.pairs as f64;
        if n == 0.0 {
            return 0.0;
        }
        let rows: Vec<f64> = self
            .confusion
            .iter()
            .map(|row| row.iter().sum::<usize>() as f64)
            .collect();
        let cols: Vec<f64> = (0..5)
            .map(|col| self.confusion.iter().map(|row| row[col]).sum::<usize>() as f64)
            .collect();
        let (mut observed, mut chance) = (0.0, 0.0);
        for (row, counts) in self.confusion.iter().enumerate() {
            for (col, &count) in counts.iter().enumerate() {
                let weight = ((row as f64) - (col as f64)).powi(2) / 16.0;
                observed += weight * count as f64 / n;
                chance += weight * rows[row] * cols[col] / (n * n);
            }
        }
        if chance == 0.0 {
            return 1.0;
        }
        1.0 - observed / chance
    }
}

impl CalibrationPair {
    /// The pair's half: a hash of the seed, reference and candidate, so the split is fixed by the text
    /// of the pair alone (adding pairs never moves another one).
    pub fn split(&self) -> Split {
        let key = format!(
            "{SPLIT_SEED}\u{1f}{}\u{1f}{}",
            self.reference, self.candidate
        );
        Split::of(&key)
    }

    /// The reference's accepted synonyms.
    pub fn synonyms(&self) -> Vec<String> {
        self.reference_synonyms
            .split('|')
            .map(str::trim)
            .filter(|synonym| !synonym.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The reference, borrowing `synonyms` (from [`CalibrationPair::synonyms`]).
    pub fn reference<'a>(&'a self, synonyms: &'a [String]) -> Reference<'a> {
        Reference {
            name: &self.reference,
            icd10: &self.reference_icd10,
            synonyms,
        }
    }

    /// The code the candidate gave, if any.
    pub fn candidate_code(&self) -> Option<&str> {
        Some(self.candidate_icd10.as_str()).filter(|code| !code.trim().is_empty())
    }
}

/// Scores every pair with the rule-based `judge` and counts the agreement.
pub fn measure(judge: &RuleJudge, pairs: &[CalibrationPair]) -> Agreement {
    let verdicts = pairs
        .iter()
        .map(|pair| {
            let synonyms = pair.synonyms();
            judge.judge(
                pair.reference(&synonyms),
                &pair.candidate,
                pair.candidate_code(),
            )
        })
        .collect();
    tally(pairs, verdicts)
}

/// Counts the agreement of `verdicts` (one per pair, in order) with the pairs' expected scores.
pub fn tally(pairs: &[CalibrationPair], verdicts: Vec<Verdict>) -> Agreement {
    let mut agreement = Agreement::default();
    for (pair, verdict) in pairs.iter().zip(verdicts) {
        agreement.pairs += 1;
        let expected = pair.expected_score.clamp(1, 5);
        agreement.confusion[usize::from(expected - 1)][usize::from(verdict.score - 1)] += 1;
        if verdict.score == expected {
            agreement.exact += 1;
        }
        if verdict.score.abs_diff(expected) <= 1 {
            agreement.within_one += 1;
        }
        let kind = agreement.by_kind.entry(pair.kind.clone()).or_default();
        kind.pairs += 1;
        if verdict.score == expected {
            kind.exact += 1;
        }
        if (verdict.score >= CORRECT_AT) == (expected >= CORRECT_AT) {
            agreement.binary += 1;
            kind.binary += 1;
        } else {
            agreement
                .disagreements
                .push((pair.clone(), verdict.clone()));
        }
        agreement.verdicts.push(verdict);
    }
    agreement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_set_is_large_varied_and_well_formed() {
        let pairs = pairs();
        assert!(pairs.len() >= 400, "{} pairs", pairs.len());
        assert!(
            pairs
                .iter()
                .all(|pair| (1..=5).contains(&pair.expected_score))
        );
        let specialties: std::collections::BTreeSet<&str> =
            pairs.iter().map(|pair| pair.specialty.as_str()).collect();
        assert!(specialties.len() >= 25, "{specialties:?}");
        let without_synonyms = pairs
            .iter()
            .filter(|pair| pair.reference_synonyms.is_empty())
            .count();
        assert!(without_synonyms * 4 >= pairs.len() * 3);
        for kind in ["negation", "list", "hedge", "sibling", "eponym", "lay"] {
            assert!(
                pairs.iter().any(|pair| pair.kind == kind),
                "no {kind} pairs"
            );
        }
    }

    #[test]
    fn the_split_is_fixed_and_near_half() {
        let pairs = pairs();
        let dev = pairs
            .iter()
            .filter(|pair| pair.split() == Split::Dev)
            .count();
        let share = dev as f64 / pairs.len() as f64;
        assert!((0.4..0.6).contains(&share), "dev share {share}");
        // The split depends on the pair's text alone.
        let pair = &pairs[0];
        assert_eq!(pair.split(), pair.clone().split());
    }

    fn half(split: Split) -> Vec<CalibrationPair> {
        pairs()
            .into_iter()
            .filter(|pair| pair.split() == split)
            .collect()
    }

    fn report(name: &str, agreement: &Agreement) {
        for (pair, verdict) in &agreement.disagreements {
            eprintln!(
                "{name} disagree: {:?} vs {:?}: expected {}, judged {} ({})",
                pair.reference,
                pair.candidate,
                pair.expected_score,
                verdict.score,
                verdict.rationale
            );
        }
        eprintln!(
            "{name}: {} pairs, binary {:.1}%, exact {:.1}%, kappa {:.2}",
            agreement.pairs,
            100.0 * agreement.binary_rate(),
            100.0 * agreement.exact_rate(),
            agreement.binary_kappa()
        );
    }

    #[test]
    fn rule_judge_holds_its_floor_on_the_dev_half() {
        // The half the rules were tuned on. The floor guards against regressions; it is not a target.
        let agreement = measure(RuleJudge::shared(), &half(Split::Dev));
        report("dev", &agreement);
        assert!(
            agreement.binary_rate() >= 0.88,
            "binary agreement {:.3}",
            agreement.binary_rate()
        );
    }

    #[test]
    fn rule_judge_holds_its_floor_on_the_test_half() {
        // The honest figure: pairs the rules were never tuned on. A regression floor, not the goal
        // (DESIGN.md §3.7 asks for 95 %; see the README for where the judge stands).
        let agreement = measure(RuleJudge::shared(), &half(Split::Test));
        report("test", &agreement);
        assert!(
            agreement.binary_rate() >= 0.80,
            "binary agreement {:.3}",
            agreement.binary_rate()
        );
    }

    #[test]
    fn kappa_is_one_for_perfect_agreement_and_zero_for_a_constant_judge() {
        let pairs = parse(
            "reference,reference_icd10,reference_synonyms,candidate,candidate_icd10,expected_score,why\n\
             A,I10,,A,,5,same\nA,I10,,B,,1,other\n",
        )
        .expect("valid csv");
        let perfect = tally(
            &pairs,
            vec![Verdict::new(5, "same"), Verdict::new(1, "other")],
        );
        assert!((perfect.binary_kappa() - 1.0).abs() < 1e-9);
        let constant = tally(&pairs, vec![Verdict::new(5, "x"), Verdict::new(5, "x")]);
        assert!(constant.binary_kappa().abs() < 1e-9);
    }

    #[test]
    fn calibration_csv_parsing_rejects_bad_scores() {
        let pairs = parse("reference,reference_icd10,reference_synonyms,candidate,candidate_icd10,expected_score,why\nA,I10,,A,,5,same\n")
            .expect("valid csv");
        assert_eq!(pairs.len(), 1);
        assert!(parse("reference,expected_score\nA,five\n").is_err());
    }
}
