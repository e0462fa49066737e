//! The gatekeeper end to end on a real catalogue and a fixture case: every resolution path, disclosure
//! of case and synthetic results, refusals, examination and billing.

use dxsim_gatekeeper::case::{Case, Flag, parse_case};
use dxsim_gatekeeper::disclosure::{ExamReply, OrderReply, Refusal, Revealed};
use dxsim_gatekeeper::resolve::{ExamOutcome, MatchKind, OrderOutcome};
use dxsim_gatekeeper::{
    Catalogue, CostConfig, DisclosureState, Gatekeeper, Ledger, Money, Resolver,
};

use crate::VALID_CASE;

fn fixture() -> Case {
    parse_case(VALID_CASE, "fixture-valid.toml").expect("fixture parses")
}

fn resolver() -> Resolver<'static> {
    Resolver::new(Catalogue::builtin())
}

fn test_id(outcome: &OrderOutcome) -> Option<&'static str> {
    match outcome {
        OrderOutcome::Test { test, .. } => Some(Catalogue::builtin().tests()[*test].id.as_str()),
        _ => None,
    }
}

fn via(outcome: &OrderOutcome) -> Option<MatchKind> {
    match outcome {
        OrderOutcome::Test { via, .. } | OrderOutcome::Analyte { via, .. } => Some(*via),
        _ => None,
    }
}

#[test]
fn exact_id_and_display_name_resolve_exactly() {
    let resolver = resolver();
    let by_id = resolver.resolve_order("cbc");
    assert_eq!(test_id(&by_id), Some("cbc"));
    assert_eq!(via(&by_id), Some(MatchKind::Exact));
    let name = &Catalogue::builtin()
        .test("chest_xray")
        .expect("exists")
        .name;
    let by_name = resolver.resolve_order(&name.to_uppercase());
    assert_eq!(test_id(&by_name), Some("chest_xray"));
    assert_eq!(via(&by_name), Some(MatchKind::Exact));
}

#[test]
fn synonym_resolves() {
    let outcome = resolver().resolve_order("full blood count");
    assert_eq!(test_id(&outcome), Some("cbc"));
    assert_eq!(via(&outcome), Some(MatchKind::Synonym));
}

#[test]
fn abbreviation_resolves() {
    let outcome = resolver().resolve_order("FBC");
    assert_eq!(test_id(&outcome), Some("cbc"));
    assert_eq!(via(&outcome), Some(MatchKind::Abbreviation));
}

#[test]
fn typo_resolves_fuzzily_above_the_threshold() {
    let outcome = resolver().resolve_order("troponnin");
    assert_eq!(test_id(&outcome), Some("troponin"), "{outcome:?}");
    assert!(
        matches!(via(&outcome), Some(MatchKind::Fuzzy { score }) if score >= dxsim_gatekeeper::resolve::FUZZY_THRESHOLD)
    );
}

#[test]
fn ordering_words_and_specimen_words_are_ignored() {
    let resolver = resolver();
    assert_eq!(
        test_id(&resolver.resolve_order("please order a stat troponin")),
        Some("troponin")
    );
    assert_eq!(
        test_id(&resolver.resolve_order("serum lipase level")),
        Some("lipase")
    );
}

#[test]
fn multi_item_request_is_split_and_answered_item_by_item() {
    let items = resolver().resolve_order_request("CBC, troponin and a chest x-ray; ECG");
    let ids: Vec<Option<&str>> = items.iter().map(|(_, outcome)| test_id(outcome)).collect();
    assert_eq!(
        ids,
        vec![
            Some("cbc"),
            Some("troponin"),
            Some("chest_xray"),
            Some("ecg")
        ]
    );
}

#[test]
fn component_analyte_resolves_to_the_analyte() {
    let outcome = resolver().resolve_order("MCV");
    let OrderOutcome::Analyte { analyte, .. } = outcome else {
        panic!("expected an analyte, got {outcome:?}");
    };
    assert_eq!(Catalogue::builtin().analytes()[analyte].id, "mcv");
}

#[test]
fn vague_order_is_refused_with_suggestions() {
    let gatekeeper_case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &gatekeeper_case, 1);
    for vague in ["bloods", "blood work", "everything", "a scan", "labs"] {
        let replies = gatekeeper.order(vague, &mut DisclosureState::default());
        let [
            Revealed {
                public:
                    OrderReply::Refused {
                        reason,
                        suggestions,
                        message,
                        ..
                    },
                ..
            },
        ] = replies.as_slice()
        else {
            panic!("{vague}: {replies:?}");
        };
        assert_eq!(*reason, Refusal::Vague, "{vague}");
        assert!(!suggestions.is_empty(), "{vague} has no suggestions");
        assert!(message.contains("too vague"), "{message}");
    }
}

#[test]
fn interpretation_is_refused() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 1);
    for request in [
        "what does the ECG mean?",
        "interpret the troponin",
        "what is the diagnosis",
        "any hints?",
    ] {
        let replies = gatekeeper.order(request, &mut DisclosureState::default());
        assert!(
            matches!(
                replies[0].public,
                OrderReply::Refused {
                    reason: Refusal::Interpretation,
                    ..
                }
            ),
            "{request}: {replies:?}"
        );
        assert_eq!(replies[0].public.billable(), None);
    }
}

#[test]
fn unknown_request_is_free_and_names_the_nearest_tests() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 1);
    let replies = gatekeeper.order("quantum flux assay", &mut DisclosureState::default());
    let OrderReply::Unrecognised { suggestions, .. } = &replies[0].public else {
        panic!("{replies:?}");
    };
    assert!(!suggestions.is_empty());
    assert_eq!(replies[0].public.billable(), None);
    let near = gatekeeper.order("troponin assay thing", &mut DisclosureState::default());
    let names: Vec<String> = match &near[0].public {
        OrderReply::Unrecognised { suggestions, .. } => {
            suggestions.iter().map(|s| s.id.clone()).collect()
        }
        OrderReply::Reported { report, .. } => vec![report.test.clone()],
        other => panic!("{other:?}"),
    };
    assert!(names.iter().any(|id| id == "troponin"), "{names:?}");
}

fn reported(reply: &Revealed<OrderReply>) -> &dxsim_gatekeeper::disclosure::TestReport {
    match &reply.public {
        OrderReply::Reported { report, .. } => report,
        other => panic!("expected a report, got {other:?}"),
    }
}

#[test]
fn case_result_is_revealed_with_its_flag() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 1);
    let replies = gatekeeper.order("troponin", &mut DisclosureState::default());
    let report = reported(&replies[0]);
    assert_eq!(report.values[0].value, Some(0.62));
    assert_eq!(report.values[0].flag, Flag::High);
    assert!(report.abnormal);
    assert!(replies[0].synthetic.is_empty());
}

#[test]
fn synthetic_result_is_seeded_inside_its_range_and_unmarked() {
    let case = fixture();
    let resolver = resolver();
    let catalogue = Catalogue::builtin();
    let order = |seed| {
        Gatekeeper::new(&resolver, &case, seed).order("lipase", &mut DisclosureState::default())
    };
    let first = order(11);
    let again = order(11);
    assert_eq!(first, again, "same seed, same result");
    assert_eq!(
        first[0].synthetic,
        vec![std::sync::Arc::<str>::from("lipase")]
    );
    let value = reported(&first[0]).values[0].value.expect("numeric");
    let [low, high] = catalogue
        .analyte("lipase")
        .and_then(|a| a.range_for(case.presentation.sex))
        .expect("range");
    assert!(
        (low..=high).contains(&value),
        "{value} outside {low}–{high}"
    );
    let distinct: std::collections::HashSet<u64> = (0..12)
        .map(|seed| {
            reported(&order(seed)[0]).values[0]
                .value
                .expect("numeric")
                .to_bits()
        })
        .collect();
    assert!(
        distinct.len() > 1,
        "different seeds should give different values"
    );
    let public = serde_json::to_string(&first[0].public)
        .expect("serialises")
        .to_lowercase();
    for marker in [
        "synthetic",
        "simulated",
        "generated",
        "placeholder",
        "template",
    ] {
        assert!(
            !public.contains(marker),
            "public reply contains {marker}: {public}"
        );
    }
}

#[test]
fn unlisted_text_test_gets_the_normal_report_with_the_case_heart_rate() {
    let mut case = fixture();
    case.tests.retain(|test| test.id != "ecg");
    case.key_findings.clear();
    let resolver = resolver();
    let replies =
        Gatekeeper::new(&resolver, &case, 3).order("ECG", &mut DisclosureState::default());
    let report = reported(&replies[0]);
    let text = report.text.as_deref().expect("text report");
    assert!(!text.contains('{'), "template placeholder left in {text}");
    assert_eq!(
        replies[0].synthetic,
        vec![std::sync::Arc::<str>::from("ecg")]
    );
    assert!(!report.abnormal);
}

#[test]
fn panel_mixes_listed_and_seeded_values() {
    let case = fixture();
    let resolver = resolver();
    let replies =
        Gatekeeper::new(&resolver, &case, 5).order("cbc", &mut DisclosureState::default());
    let report = reported(&replies[0]);
    let wbc = report
        .values
        .iter()
        .find(|value| &*value.analyte == "wbc")
        .expect("wbc");
    assert_eq!(wbc.value, Some(11.8));
    assert!(report.values.iter().any(|value| &*value.analyte == "mcv"));
    assert!(replies[0].synthetic.iter().any(|id| &**id == "mcv"));
    assert!(!replies[0].synthetic.iter().any(|id| &**id == "wbc"));
}

#[test]
fn component_after_its_panel_returns_the_same_value_free() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 9);
    let mut state = DisclosureState::default();
    let panel = gatekeeper.order("CBC", &mut state);
    let mcv = reported(&panel[0])
        .values
        .iter()
        .find(|value| &*value.analyte == "mcv")
        .expect("mcv")
        .clone();
    let again = gatekeeper.order("MCV", &mut state);
    let OrderReply::AlreadyReported { value, .. } = &again[0].public else {
        panic!("{again:?}");
    };
    assert_eq!(value, &mcv);
    assert_eq!(again[0].public.billable(), None);
}

#[test]
fn one_patient_has_one_value_per_analyte_across_tests() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 9);
    let potassium = gatekeeper.order("potassium", &mut DisclosureState::default());
    let value = reported(&potassium[0])
        .values
        .iter()
        .find(|v| &*v.analyte == "potassium")
        .expect("k")
        .value;
    assert_eq!(value, Some(4.1), "the case lists potassium in the BMP");
}

#[test]
fn confirmatory_values_are_one_measurement_shared_by_every_test() {
    let mut case = fixture();
    let bmp = case
        .tests
        .iter_mut()
        .find(|test| test.id == "bmp")
        .expect("bmp");
    bmp.confirmatory = true;
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 9);
    let potassium = gatekeeper.order("potassium", &mut DisclosureState::default());
    assert_eq!(
        reported(&potassium[0]).values[0].value,
        Some(4.1),
        "no contradicting value from another test"
    );
}

#[test]
fn confirmatory_report_is_revealed_only_by_its_own_study() {
    let mut case = fixture();
    let ecg = case
        .tests
        .iter_mut()
        .find(|test| test.id == "ecg")
        .expect("ecg");
    ecg.confirmatory = true;
    let listed = ecg.report.clone().expect("text report");
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 9);
    let by_ecg = gatekeeper.order("ecg", &mut DisclosureState::default());
    assert_eq!(reported(&by_ecg[0]).text.as_ref(), Some(&listed));
    let holter = gatekeeper.order("holter_monitor", &mut DisclosureState::default());
    assert_ne!(reported(&holter[0]).text.as_ref(), Some(&listed));
}

#[test]
fn examination_reveals_listed_findings_normal_templates_and_vitals() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 2);
    let replies = gatekeeper.examine("heart and lungs; abdomen, vital signs");
    let systems: Vec<(&str, bool)> = replies
        .iter()
        .map(|reply| match &reply.public {
            ExamReply::Finding {
                system, abnormal, ..
            } => (system.as_str(), *abnormal),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        systems,
        vec![
            ("cardiovascular", true),
            ("respiratory", false),
            ("abdomen", false),
            ("vitals", true)
        ]
    );
    assert!(replies[0].synthetic.is_empty());
    assert_eq!(
        replies[2].synthetic,
        vec![std::sync::Arc::<str>::from("abdomen")]
    );
    let ExamReply::Finding { text, .. } = &replies[3].public else {
        unreachable!()
    };
    assert!(text.contains("heart rate 52/min"), "{text}");
}

#[test]
fn vague_and_unknown_examinations_are_refused() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 2);
    assert!(matches!(
        resolver.resolve_exam("full examination"),
        ExamOutcome::Vague
    ));
    assert!(matches!(
        gatekeeper.examine("examine the patient")[0].public,
        ExamReply::Refused {
            reason: Refusal::Vague,
            ..
        }
    ));
    assert!(matches!(
        gatekeeper.examine("xylophone")[0].public,
        ExamReply::Unrecognised { .. }
    ));
}

#[test]
fn billing_follows_visits_and_orders() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 4);
    let mut state = DisclosureState::default();
    let mut ledger = Ledger::new(CostConfig::default());
    ledger.consultation();
    gatekeeper.examine("heart");
    ledger.consultation();
    let replies = gatekeeper.order("ecg, troponin, bloods", &mut state);
    let charges = ledger.order(replies.iter().filter_map(|reply| reply.public.billable()));
    assert_eq!(charges.len(), 2, "the vague item is not charged");
    let replies = gatekeeper.order("troponin", &mut state);
    ledger.order(replies.iter().filter_map(|reply| reply.public.billable()));
    let catalogue = Catalogue::builtin();
    let price = |id: &str| catalogue.test(id).expect("exists").price;
    let totals = ledger.totals();
    assert_eq!(totals.visit_count, 1);
    assert_eq!(totals.repeat_count, 1);
    assert_eq!(
        totals.tests,
        price("ecg") + price("troponin") + price("troponin")
    );
    assert_eq!(totals.total, Money(30_000) + totals.tests);
}

#[test]
fn equivalent_study_of_the_same_family_returns_the_case_report() {
    let case = fixture();
    let resolver = resolver();
    let gatekeeper = Gatekeeper::new(&resolver, &case, 6);
    let listed = case
        .test("chest_xray")
        .and_then(|test| test.report.clone())
        .expect("fixture lists a chest X-ray");
    let portable = gatekeeper.order("chest_xray_portable", &mut DisclosureState::default());
    assert_eq!(reported(&portable[0]).text.as_ref(), Some(&listed));
    assert!(
        portable[0].synthetic.is_empty(),
        "a family member's report is the case's, not synthetic"
    );
    let unrelated = gatekeeper.order("ct_head_noncontrast", &mut DisclosureState::default());
    assert_eq!(
        unrelated[0].synthetic,
        vec![std::sync::Arc::<str>::from("ct_head_noncontrast")]
    );
}

#[test]
fn unlisted_drug_level_reads_not_detected_rather_than_a_therapeutic_value() {
    let case = fixture();
    let resolver = resolver();
    let replies = Gatekeeper::new(&resolver, &case, 8)
        .order("lithium level", &mut DisclosureState::default());
    let value = &reported(&replies[0]).values[0];
    assert_eq!(&*value.analyte, "lithium");
    assert_eq!(value.value, None);
    assert_eq!(value.text, "not detected");
    assert_eq!(value.flag, Flag::Normal);
    assert_eq!(
        replies[0].synthetic,
        vec![std::sync::Arc::<str>::from("lithium")]
    );
}
