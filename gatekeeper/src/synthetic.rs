//! Synthetic normal findings for tests and systems a case does not list (DESIGN.md §3.4).
//!
//! A value is drawn from the middle 70% of the analyte's reference range for the patient (their age
//! band's or trimester's where the catalogue gives one, else sex-specific where it gives one) with a generator seeded by the episode seed and the analyte id, so one episode
//! always sees one value for one analyte, whichever test reports it, and nothing in the value marks it as
//! synthetic.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::case::RangeSubject;
use crate::catalogue::AnalyteDef;
use crate::text::stable_hash;

/// Share of the reference range kept clear at each end.
const MARGIN: f64 = 0.15;

/// A plausible normal value for `analyte` in this patient, seeded by `seed`; `None` for a qualitative
/// analyte.
pub fn normal_value(analyte: &AnalyteDef, subject: RangeSubject, seed: u64) -> Option<f64> {
    let [low, high] = analyte.range_for_subject(subject)?;
    let decimals = match &analyte.kind {
        crate::catalogue::AnalyteKind::Numeric { decimals, .. } => *decimals,
        crate::catalogue::AnalyteKind::Qualitative { .. } => 0,
    };
    let margin = (high - low) * MARGIN;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ stable_hash(analyte.id.as_bytes()));
    let raw = rng.random_range((low + margin)..=(high - margin));
    let scale = 10f64.powi(i32::from(decimals));
    Some(((raw * scale).round() / scale).clamp(low, high))
}

/// Writes `value` with the analyte's number of decimals.
pub fn format_value(value: f64, decimals: u8) -> String {
    format!("{value:.prec$}", prec = usize::from(decimals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Sex;
    use crate::catalogue::Catalogue;

    #[test]
    fn synthetic_value_is_seeded_and_inside_the_range() {
        let catalogue = Catalogue::builtin();
        for analyte in catalogue.analytes() {
            let Some([low, high]) = analyte.range_for(Sex::Male) else {
                continue;
            };
            let first = normal_value(analyte, RangeSubject::adult(Sex::Male), 42).expect("numeric");
            assert_eq!(
                Some(first),
                normal_value(analyte, RangeSubject::adult(Sex::Male), 42),
                "{}",
                analyte.id
            );
            assert!(
                (low..=high).contains(&first),
                "{} = {first} outside {low}–{high}",
                analyte.id
            );
        }
    }

    #[test]
    fn different_seeds_give_different_values() {
        let catalogue = Catalogue::builtin();
        let sodium = catalogue.analyte("sodium").expect("sodium exists");
        let values: std::collections::HashSet<u64> = (0..20)
            .map(|seed| {
                normal_value(sodium, RangeSubject::adult(Sex::Female), seed)
                    .expect("numeric")
                    .to_bits()
            })
            .collect();
        assert!(values.len() > 3, "only {} distinct values", values.len());
    }

    #[test]
    fn values_print_with_catalogue_decimals() {
        assert_eq!(format_value(4.0, 1), "4.0");
        assert_eq!(format_value(139.0, 0), "139");
    }
}
