//! Importers: every quirk of the invented AgentClinic and DDXPlus fixtures, validation of every
//! imported case, imported cases played end to end, and a 100,000-patient DDXPlus-shaped file.

use std::path::{Path, PathBuf};
use std::process::Command;

use dxsim::action::Action;
use dxsim::episode::{CaseSelector, Env, EpisodeOptions, Finding, Step};
use dxsim::import::agentclinic::{self, Form};
use dxsim::import::ddxplus::{self, DdxplusSource};
use dxsim::import::{
    CaseSink, CollectCases, CollectSink, ImportError, ImportOptions, ImportReport, NoteKind,
    RecordReport, ReportSink,
};
use dxsim::library::{CaseLibrary, CaseSource, load_paths};
use dxsim_gatekeeper::case::{HistoryTopic, ImportFormat, Sex, WorkupStep, validate_case};
use dxsim_gatekeeper::disclosure::{ExamReply, OrderReply};
use dxsim_gatekeeper::{Case, Catalogue, Icd10};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn options() -> ImportOptions {
    ImportOptions {
        licence: "NOASSERTION".into(),
        created: "2026-11-24".into(),
        ..ImportOptions::default()
    }
}

struct Imported {
    report: ImportReport,
    cases: Vec<Case>,
    records: Vec<RecordReport>,
}

impl Imported {
    fn case(&self, line: u64) -> &Case {
        self.cases
            .iter()
            .find(|case| {
                case.import
                    .as_ref()
                    .is_some_and(|import| import.line == line)
            })
            .unwrap_or_else(|| panic!("no case from line {line}"))
    }

    fn record(&self, line: u64) -> &RecordReport {
        self.records
            .iter()
            .find(|record| record.line == line)
            .unwrap_or_else(|| panic!("no report for line {line}"))
    }

    fn messages(&self, line: u64, kind: NoteKind) -> Vec<String> {
        self.record(line)
            .notes
            .iter()
            .filter(|note| note.kind == kind)
            .map(|note| format!("{}: {}", note.field, note.message))
            .collect()
    }

    fn failed_lines(&self) -> Vec<u64> {
        self.records
            .iter()
            .filter(|record| !record.imported())
            .map(|record| record.line)
            .collect()
    }
}

fn agentclinic(name: &str, form: Form) -> Imported {
    let mut cases = CollectCases::default();
    let mut sink = CollectSink::default();
    let report = agentclinic::import_file(&fixture(name), form, &options(), &mut cases, &mut sink)
        .expect("the fixture imports");
    Imported {
        report,
        cases: cases.0,
        records: sink.0,
    }
}

fn ddxplus_fixture() -> Imported {
    let mut cases = CollectCases::default();
    let mut sink = CollectSink::default();
    let report = ddxplus::import_dir(&fixture("ddxplus"), &[], &options(), &mut cases, &mut sink)
        .expect("the fixture imports");
    Imported {
        report,
        cases: cases.0,
        records: sink.0,
    }
}

fn history_texts(case: &Case, topic: HistoryTopic) -> Vec<&str> {
    case.history
        .iter()
        .filter(|item| item.topic == topic)
        .map(|item| item.text.as_str())
        .collect()
}

fn report_of<'a>(case: &'a Case, id: &str) -> &'a str {
    case.test(id)
        .and_then(|test| test.report.as_deref())
        .unwrap_or_else(|| panic!("{} lists no report for {id}", case.id))
}

#[test]
fn osce_fixture_imports_good_records_and_reports_broken_ones_by_line() {
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    // Nine lines, one blank: eight records, three of them unusable.
    assert_eq!(imported.report.read, 8);
    assert_eq!(imported.report.imported, 5);
    assert_eq!(imported.report.failed, 3);
    assert_eq!(imported.failed_lines(), [5, 7, 8]);
    assert!(imported.messages(5, NoteKind::Failed)[0].contains("not valid JSON"));
    assert!(imported.messages(7, NoteKind::Failed)[0].contains("neither AgentClinic form"));
    assert!(imported.messages(8, NoteKind::Failed)[0].contains("Correct_Diagnosis"));
    for case in &imported.cases {
        let import = case.import.as_ref().expect("imported cases say where from");
        assert_eq!(import.format, ImportFormat::AgentclinicOsce);
        assert!(
            case.provenance
                .source
                .contains(&format!("agentclinic_osce.jsonl line {}", import.line))
        );
        assert_eq!(case.id, format!("agentclinic-osce-{}", import.line));
    }
}

#[test]
fn the_last_record_imports_without_a_final_newline() {
    let bytes = std::fs::read(fixture("agentclinic_osce.jsonl")).expect("fixture");
    assert_ne!(
        bytes.last(),
        Some(&b'\n'),
        "the fixture must end without a newline"
    );
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    let last = imported.case(9);
    assert_eq!(last.diagnosis.name, "Herpes zoster without complications");
    assert_eq!(
        (last.presentation.age_years, last.presentation.sex),
        (72, Sex::Male)
    );
    // The name is no ICD-10-CM description word for word; the judge's terminology finds its code
    // and the code files it under a specialty.
    assert_eq!(last.diagnosis.icd10, "B02");
    assert_eq!(last.specialty, "infectious_disease");
    assert_eq!(last.exam_finding("skin").map(|f| f.abnormal), Some(true));
}

#[test]
fn mixed_types_and_inconsistent_spellings_are_read() {
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    let case = imported.case(2);
    // Demographics as an object, history as a list, symptoms as a comma-separated string.
    assert_eq!(
        (case.presentation.age_years, case.presentation.sex),
        (67, Sex::Male)
    );
    assert!(
        case.presentation
            .summary
            .starts_with("A 67-year-old man presents with")
    );
    let onset = history_texts(case, HistoryTopic::Onset);
    assert!(onset.contains(&"Productive cough"), "{onset:?}");
    let all: Vec<&str> = case.history.iter().map(|item| item.text.as_str()).collect();
    for expected in [
        "fever",
        "chills",
        "Cough with green sputum for four days",
        "42",
    ] {
        assert!(all.contains(&expected), "{expected} missing from {all:?}");
    }
    assert_eq!(history_texts(case, HistoryTopic::Medications), ["42"]);
    assert!(
        history_texts(case, HistoryTopic::Social)
            .contains(&"Smoking: 30 pack-years, stopped five years ago")
    );
    assert_eq!(
        history_texts(case, HistoryTopic::PastHistory),
        ["Type 2 diabetes", "Hypertension"]
    );
    assert!(
        case.history
            .iter()
            .any(|item| item.negative && item.text.contains("No vomiting"))
    );
    // Vital signs from a string, Fahrenheit converted; what is not a vital sign is kept in general.
    assert_eq!(case.vitals.temperature_c, 38.8);
    assert_eq!((case.vitals.heart_rate, case.vitals.spo2), (108, 91));
    assert!(
        case.exam_finding("general")
            .is_some_and(|f| f.text.contains("Capillary refill"))
    );
    // `Chest_X-ray` and `Chest_X-Ray` are one study; both texts are kept.
    let xray = report_of(case, "chest_xray");
    assert!(
        xray.contains("air bronchograms") && xray.contains("posterior basal"),
        "{xray}"
    );
    assert!(
        imported
            .messages(2, NoteKind::Repaired)
            .iter()
            .any(|m| m.contains("2 keys map to `chest_xray`"))
    );
    // `Blood_Work` is a group: WBC and neutrophils are one CBC with differential, CRP its own test.
    let cbc = report_of(case, "cbc");
    assert!(
        cbc.contains("WBC: 16.2") && cbc.contains("Neutrophils: 13.1"),
        "{cbc}"
    );
    assert_eq!(report_of(case, "crp"), "CRP: 182");
}

#[test]
fn text_naming_the_diagnosis_is_withheld_or_made_confirmatory() {
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    let case = imported.case(2);
    let respiratory = case
        .exam_finding("respiratory")
        .expect("respiratory finding");
    assert!(
        !respiratory.text.to_lowercase().contains("pneumonia"),
        "{}",
        respiratory.text
    );
    assert!(respiratory.text.contains("Bronchial breathing"));
    let repaired = imported.messages(2, NoteKind::Repaired);
    assert!(
        repaired
            .iter()
            .any(|m| m.contains("Signs consistent with pneumonia in the right lower lobe`")),
        "{repaired:?}"
    );
    let gram = case.test("sputum_gram_stain").expect("gram stain");
    assert!(gram.confirmatory);
}

#[test]
fn odd_keys_and_empty_sections_are_handled() {
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    let case = imported.case(3);
    assert_eq!(
        (case.presentation.age_years, case.presentation.sex),
        (8, Sex::Female)
    );
    // Keys with spaces, parentheses, ampersands and non-ASCII letters.
    assert!(
        case.exam_finding("skin")
            .is_some_and(|f| f.text.contains("Herald patch"))
    );
    assert!(case.exam_finding("lymph_nodes").is_some());
    assert!(
        case.exam_finding("ent")
            .is_some_and(|f| f.text.contains("Tympanic"))
    );
    assert!(
        case.exam_finding("general")
            .is_some_and(|f| f.text.contains("Température (°C): 37.1"))
    );
    assert!(imported.messages(3, NoteKind::Unmapped)[0].contains("Température (°C)"));
    assert_eq!(history_texts(case, HistoryTopic::Allergies), ["None known"]);
    assert_eq!(
        history_texts(case, HistoryTopic::PastHistory),
        ["Up to date"]
    );
    // Empty objects, lists and strings add nothing and are not errors.
    assert!(case.tests.is_empty());
    assert!(history_texts(case, HistoryTopic::Social).is_empty());
    assert!(history_texts(case, HistoryTopic::ReviewOfSystems).is_empty());
    assert_eq!(case.diagnosis.icd10, "L42");
    assert_eq!(case.specialty, "dermatology");
}

#[test]
fn nesting_six_levels_deep_is_kept_whole() {
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    let case = imported.case(4);
    assert!(report_of(case, "us_abdomen").contains("9 mm, non-compressible"));
    let markers = case
        .tests
        .iter()
        .find(|test| test.is_case_specific())
        .expect("a case-specific test");
    assert_eq!(
        markers.name.as_deref(),
        Some("Inflammatory Markers (serum)")
    );
    assert!(
        markers
            .report
            .as_deref()
            .is_some_and(|r| r.contains("CRP 48 mg/L"))
    );
    assert!(markers.price_usd.is_some_and(|price| price > 0.0));
    assert!(
        case.exam_finding("abdomen")
            .is_some_and(|f| f.text.contains("McBurney"))
    );
    assert_eq!(case.diagnosis.icd10, "K35");
}

#[test]
fn nejm_records_keep_options_image_and_question() {
    let imported = agentclinic("agentclinic_nejm.jsonl", Form::Auto);
    assert_eq!((imported.report.read, imported.report.imported), (5, 3));
    assert_eq!(imported.failed_lines(), [3, 4]);
    assert!(imported.messages(3, NoteKind::Failed)[0].contains("not valid JSON"));
    assert!(imported.messages(4, NoteKind::Failed)[0].contains("2 answers are marked correct"));
    let scabies = imported.case(1);
    let import = scabies.import.as_ref().expect("import info");
    assert_eq!(import.format, ImportFormat::AgentclinicNejm);
    assert_eq!(import.options.len(), 5);
    assert!(import.options.contains(&"Scabies".to_string()));
    assert_eq!(
        import.image_url.as_deref(),
        Some("https://example.invalid/images/nejm-fixture-1.jpg")
    );
    assert_eq!(
        import.question.as_deref(),
        Some("What is the most likely diagnosis?")
    );
    assert!(import.no_tests);
    assert_eq!(scabies.specialty, "dermatology");
    assert_eq!(
        (scabies.presentation.age_years, scabies.presentation.sex),
        (45, Sex::Male)
    );
    assert!(
        scabies
            .exam_finding("skin")
            .is_some_and(|f| f.text.contains("burrows"))
    );
    assert!(
        scabies
            .history
            .iter()
            .any(|item| item.negative && item.text == "He had no fever.")
    );
    // `correct` as a string, four options, a sentence naming the diagnosis, exams as a list.
    let sarcoid = imported.case(2);
    let repaired = imported.messages(2, NoteKind::Repaired);
    assert!(repaired.iter().any(|m| m.contains("string \"true\"")));
    assert!(repaired.iter().any(|m| m.contains("4 options")));
    assert!(
        repaired
            .iter()
            .any(|m| m.contains("withheld `Imaging done elsewhere"))
    );
    assert!(
        sarcoid
            .history
            .iter()
            .all(|item| !item.text.contains("sarcoidosis"))
    );
    assert!(
        sarcoid
            .exam_finding("general")
            .is_some_and(|f| f.text == "Tender erythematous nodules on both shins.")
    );
    assert!(
        sarcoid
            .exam_finding("respiratory")
            .is_some_and(|f| !f.abnormal)
    );
    assert!(imported.messages(2, NoteKind::Unmapped)[0].contains("respiratory images"));
    // patient_info as an object; an unknown key is reported, not silently dropped.
    let child = imported.case(5);
    assert_eq!(
        (child.presentation.age_years, child.presentation.sex),
        (6, Sex::Female)
    );
    assert!(
        imported
            .messages(5, NoteKind::Unmapped)
            .iter()
            .any(|m| m.contains("source_note"))
    );
}

#[test]
fn forms_are_detected_per_record_or_enforced_by_the_flag() {
    let osce = std::fs::read_to_string(fixture("agentclinic_osce.jsonl")).expect("fixture");
    let nejm = std::fs::read_to_string(fixture("agentclinic_nejm.jsonl")).expect("fixture");
    let mixed = format!("{osce}\n{nejm}");
    let run = |form: Form| {
        let mut cases = CollectCases::default();
        let mut sink = CollectSink::default();
        let report = agentclinic::import_reader(
            mixed.as_bytes(),
            "mixed.jsonl",
            form,
            &options(),
            &mut cases,
            &mut sink,
        )
        .expect("imports");
        (report, cases.0, sink.0)
    };
    let (auto, cases, _) = run(Form::Auto);
    assert_eq!((auto.read, auto.imported), (13, 8));
    let formats: Vec<ImportFormat> = cases
        .iter()
        .filter_map(|c| c.import.as_ref().map(|i| i.format))
        .collect();
    assert_eq!(
        formats
            .iter()
            .filter(|f| **f == ImportFormat::AgentclinicNejm)
            .count(),
        3
    );
    let (osce_only, _, records) = run(Form::Osce);
    assert_eq!(osce_only.imported, 5);
    assert!(records.iter().any(|r| {
        r.notes
            .iter()
            .any(|n| n.message.contains("not in the OSCE form"))
    }));
    let (nejm_only, _, records) = run(Form::Nejm);
    assert_eq!(nejm_only.imported, 3);
    assert!(records.iter().any(|r| {
        r.notes
            .iter()
            .any(|n| n.message.contains("it is an OSCE record"))
    }));
}

#[test]
fn ddxplus_fixture_maps_evidences_conditions_and_differentials() {
    let imported = ddxplus_fixture();
    assert_eq!((imported.report.read, imported.report.imported), (11, 7));
    assert_eq!(imported.failed_lines(), [5, 6, 7, 9]);
    assert!(imported.messages(5, NoteKind::Failed)[0].contains("5 fields where the header has 6"));
    assert!(imported.messages(6, NoteKind::Failed)[0].contains("Grippe aviaire"));
    assert!(imported.messages(7, NoteKind::Failed)[0].contains("not a Python-style list"));
    assert!(imported.messages(9, NoteKind::Failed)[0].contains("`abc` is not an age"));
    let table: Vec<&str> = imported
        .report
        .table_notes
        .iter()
        .map(|n| n.message.as_str())
        .collect();
    assert!(
        table
            .iter()
            .any(|m| m.contains("`I30.98`") && m.contains("`I30.9` is used")),
        "{table:?}"
    );
    assert!(
        table.iter().any(|m| m.contains("`not-a-code`")),
        "{table:?}"
    );

    let pneumonia = imported.case(2);
    assert_eq!(pneumonia.diagnosis.name, "Pneumonia");
    assert_eq!(pneumonia.diagnosis.icd10, "J18.9");
    assert_eq!(pneumonia.specialty, "pulmonology");
    assert!(
        pneumonia
            .presentation
            .summary
            .contains("First complaint: Do you have a fever")
    );
    let texts: Vec<&str> = pneumonia
        .history
        .iter()
        .map(|item| item.text.as_str())
        .collect();
    assert!(
        texts.contains(&"Where is the pain located? right side of the chest, upper back."),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"How intense is the pain? 6 (on a scale of 0 to 10)."),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"How fast did the pain appear? suddenly."),
        "{texts:?}"
    );
    // The antecedent naming the diagnosis is withheld, and said so.
    assert!(
        texts
            .iter()
            .all(|text| !text.contains("diagnosed with pneumonia"))
    );
    assert!(imported.messages(2, NoteKind::Repaired)[0].contains("E_16"));
    assert_eq!(
        history_texts(pneumonia, HistoryTopic::Social),
        ["Do you smoke cigarettes? Yes."]
    );
    // The differential without the pathology itself, English names, codes and probabilities.
    let differential: Vec<(&str, Option<f64>)> = pneumonia
        .differential
        .iter()
        .map(|item| (item.name.as_str(), item.probability))
        .collect();
    assert_eq!(
        differential,
        [("Bronchitis", Some(0.27)), ("URTI", Some(0.12))]
    );
    let import = pneumonia.import.as_ref().expect("import info");
    assert!(import.no_exam && import.no_tests);

    let travel = imported.case(4);
    assert_eq!(history_texts(travel, HistoryTopic::Travel).len(), 1);
    assert!(imported.messages(4, NoteKind::Unmapped)[0].contains("Maladie inconnue"));
    assert!(imported.messages(8, NoteKind::Unmapped)[0].contains("E_99"));
    assert_eq!(imported.case(10).diagnosis.icd10, "I30.9");
    let infant = imported.case(11);
    assert_eq!(infant.presentation.age_years, 0);
    assert!(infant.presentation.summary.starts_with("An infant girl"));
    assert!(imported.case(12).diagnosis.icd10.is_empty());
}

#[test]
fn every_imported_case_validates_and_survives_its_toml_file() {
    let catalogue = Catalogue::builtin();
    let icd = Icd10::builtin();
    let dir = tempdir("import-validate");
    let mut written = dxsim::import::DirectorySink::new(&dir).expect("dir");
    let mut count = 0;
    for imported in [
        agentclinic("agentclinic_osce.jsonl", Form::Auto),
        agentclinic("agentclinic_nejm.jsonl", Form::Auto),
        ddxplus_fixture(),
    ] {
        for case in imported.cases {
            let problems = validate_case(&case, &case.id, catalogue, icd);
            assert!(problems.is_empty(), "{}: {problems:?}", case.id);
            written.case(case).expect("written");
            count += 1;
        }
    }
    assert_eq!(count, 15);
    let loaded = load_paths(std::slice::from_ref(&dir)).expect("loads");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.cases.len(), 15);
    // And through the command line, as a user would check them.
    let output = Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(["cases", "validate", dir.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_validator_still_refuses_what_an_import_may_not_do() {
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    let catalogue = Catalogue::builtin();
    let icd = Icd10::builtin();
    let kinds = |case: &Case| -> Vec<dxsim_gatekeeper::case::ProblemKind> {
        validate_case(case, &case.id, catalogue, icd)
            .into_iter()
            .map(|p| p.kind)
            .collect()
    };
    use dxsim_gatekeeper::case::ProblemKind;
    // A case-specific test without a price, or in an authored case.
    let mut unpriced = imported.case(1).clone();
    let specific = unpriced
        .tests
        .iter_mut()
        .find(|t| t.is_case_specific())
        .expect("specific test");
    specific.price_usd = None;
    assert!(kinds(&unpriced).contains(&ProblemKind::CaseSpecificTest));
    let mut authored = imported.case(1).clone();
    authored.import = None;
    assert!(kinds(&authored).contains(&ProblemKind::CaseSpecificTest));
    // Options that do not hold the diagnosis.
    let nejm = agentclinic("agentclinic_nejm.jsonl", Form::Auto);
    let mut options = nejm.case(1).clone();
    if let Some(import) = options.import.as_mut() {
        import.options.retain(|option| option != "Scabies");
    }
    assert!(kinds(&options).contains(&ProblemKind::BadImport));
    // A history item naming the diagnosis.
    let mut leaky = imported.case(1).clone();
    leaky.history[0].text = "My neurologist suspects myasthenia gravis.".into();
    assert!(kinds(&leaky).contains(&ProblemKind::NamesDiagnosis));
}

fn library_of(cases: Vec<Case>) -> &'static CaseLibrary {
    Box::leak(Box::new(CaseLibrary::new(cases)))
}

fn play(env: &mut Env, action: Action) -> Step {
    env.step(action).expect("step")
}

fn order(env: &mut Env, test: &str) -> OrderReply {
    let step = play(
        env,
        Action::Order {
            tests: vec![test.to_string()],
        },
    );
    let found = step
        .observation
        .findings
        .into_iter()
        .find_map(|finding| match finding {
            Finding::Order { reply } => Some(reply),
            _ => None,
        });
    found.unwrap_or_else(|| panic!("no order reply for {test}"))
}

#[test]
fn an_imported_osce_case_plays_end_to_end_with_tests_ordered_by_their_source_names() {
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    let case = imported.case(1).clone();
    let id = case.id.clone();
    let library = library_of(vec![case]);
    let mut env = Env::new(library);
    let options = EpisodeOptions {
        case: CaseSelector {
            id: Some(id),
            ..CaseSelector::default()
        },
        ..EpisodeOptions::default()
    };
    let (observation, _) = env.reset(7, options).expect("reset");
    assert!(observation.text.contains("34-year-old woman"));
    let mut seen = observation.text.to_lowercase();
    let answer = play(
        &mut env,
        Action::Ask {
            text: "Do you see double?".into(),
        },
    );
    assert!(
        answer.observation.text.contains("double"),
        "{}",
        answer.observation.text
    );
    seen.push_str(&answer.observation.text.to_lowercase());
    let exam = play(
        &mut env,
        Action::Examine {
            system: "neurological".into(),
        },
    );
    let Some(Finding::Exam {
        reply: ExamReply::Finding { text, abnormal, .. },
    }) = exam.observation.findings.first()
    else {
        panic!("no exam finding");
    };
    assert!(text.contains("ptosis") && *abnormal, "{text}");
    let vitals = play(
        &mut env,
        Action::Examine {
            system: "vitals".into(),
        },
    );
    assert!(
        vitals.observation.text.contains("heart rate 72/min"),
        "{}",
        vitals.observation.text
    );
    // Every test key of the source, ordered exactly as the source spells it.
    let source_names = [
        ("Acetylcholine_Receptor_Antibodies", "14 nmol/L"),
        ("Ice_Pack_Test", "improved by 3 mm"),
        ("TSH", "2.1 mIU/L"),
        ("Hemoglobin", "13.4 g/dL"),
        ("White_Blood_Cells", "6,800"),
        ("CT_Chest", "no thymic enlargement"),
    ];
    for (name, value) in source_names {
        let reply = order(&mut env, name);
        let OrderReply::Reported { report, price, .. } = &reply else {
            panic!("`{name}` was not reported: {reply:?}");
        };
        let text = report.text.as_deref().unwrap_or_default();
        assert!(text.contains(value), "`{name}` reported {text:?}");
        assert!(price.0 > 0, "`{name}` is charged");
        seen.push_str(&text.to_lowercase());
    }
    // A spelling the catalogue does not know reaches the case-specific test by near spelling.
    let near = order(&mut env, "ice-pack test please");
    assert!(
        matches!(near, OrderReply::Reported { ref report, .. } if report.test == "case_ice_pack_test"),
        "{near:?}"
    );
    assert!(
        !seen.contains("myasthenia"),
        "the diagnosis leaked before the end"
    );
    let last = play(
        &mut env,
        Action::Diagnose {
            diagnosis: "Myasthenia gravis".into(),
            icd10: None,
        },
    );
    assert!(last.terminated);
    let outcome = last.info.outcome.expect("outcome");
    assert!(outcome.verdict.expect("verdict").correct);
    assert!(last.info.cost.tests.0 > 0);
}

#[test]
fn ddxplus_patients_play_straight_from_the_csv() {
    let source: &'static DdxplusSource = Box::leak(Box::new(
        DdxplusSource::open(&fixture("ddxplus"), None).expect("indexes"),
    ));
    // Eleven data rows; the one with a missing field still parses as a row, others fail on demand.
    assert_eq!(source.len(), 11);
    assert!(
        source.get("ddxplus-release-test-patients-6").is_none(),
        "unknown pathology"
    );
    let case = source
        .get("ddxplus-release-test-patients-2")
        .expect("row 2 builds");
    assert_eq!(case.diagnosis.name, "Pneumonia");
    let mut env = Env::with_source(source);
    let options = EpisodeOptions {
        case: CaseSelector {
            id: Some(case.id.clone()),
            ..CaseSelector::default()
        },
        ..EpisodeOptions::default()
    };
    env.reset(1, options).expect("reset");
    let answer = play(
        &mut env,
        Action::Ask {
            text: "Do you have a cough?".into(),
        },
    );
    assert!(
        answer.observation.text.contains("sputum? Yes."),
        "{}",
        answer.observation.text
    );
    let reply = order(&mut env, "CBC");
    assert!(matches!(reply, OrderReply::NotRecorded { .. }), "{reply:?}");
    let exam = play(
        &mut env,
        Action::Examine {
            system: "chest".into(),
        },
    );
    assert!(
        exam.observation.text.contains("Not recorded"),
        "{}",
        exam.observation.text
    );
    let last = play(
        &mut env,
        Action::Diagnose {
            diagnosis: "pneumonia".into(),
            icd10: None,
        },
    );
    assert!(
        last.info
            .outcome
            .expect("outcome")
            .verdict
            .expect("verdict")
            .correct
    );
    assert_eq!(
        last.info.cost.tests.0, 0,
        "nothing recorded, nothing charged"
    );
    // Without an id, a seeded draw among the rows that build.
    let mut env = Env::with_source(source);
    let (first, info) = env.reset(5, EpisodeOptions::default()).expect("reset");
    let (again, same) = Env::with_source(source)
        .reset(5, EpisodeOptions::default())
        .expect("reset");
    assert_eq!(
        (first.text, info.case_handle.clone()),
        (again.text, same.case_handle)
    );
    let case_id = env.state().expect("running").case_id;
    assert!(source.get(&case_id).is_some());
    assert_eq!(
        info.case_handle,
        dxsim_gatekeeper::case::case_handle(&case_id)
    );
}

#[test]
fn the_cli_imports_reports_and_exits_one_when_records_fail() {
    let dir = tempdir("import-cli");
    let out = dir.join("cases");
    let output = Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(["cases", "import", "agentclinic"])
        .arg(fixture("agentclinic_osce.jsonl"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("agentclinic_osce.jsonl line 5 (not imported)"),
        "{stdout}"
    );
    assert!(stdout.contains("read 8 record(s): 5 imported"), "{stdout}");
    assert_eq!(std::fs::read_dir(&out).expect("out").count(), 5);
    let json = Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(["cases", "import", "ddxplus"])
        .arg(fixture("ddxplus"))
        .args(["--check", "--json"])
        .output()
        .expect("runs");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON lines"))
        .collect();
    assert_eq!(lines.last().and_then(|v| v["imported"].as_u64()), Some(7));
    let missing = Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(["cases", "import", "ddxplus", "no-such-dir", "--check"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("release_evidences.json"));
    let played = Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(["run", "--case", "agentclinic-osce-1", "--cases"])
        .arg(&out)
        .output()
        .expect("runs");
    assert!(
        played.status.success(),
        "{}",
        String::from_utf8_lossy(&played.stderr)
    );
    assert!(String::from_utf8_lossy(&played.stdout).contains("verdict: correct"));
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Writes a DDXPlus-shaped release of `patients` rows: the fixture's tables, and rows drawn from them
/// by the library's generator.
pub(crate) fn write_ddxplus_release(dir: &Path, patients: usize) {
    std::fs::create_dir_all(dir).expect("dir");
    for table in [ddxplus::EVIDENCES_FILE, ddxplus::CONDITIONS_FILE] {
        std::fs::copy(fixture("ddxplus").join(table), dir.join(table)).expect("copy table");
    }
    ddxplus::write_synthetic_patients(dir, "release_train_patients.csv", patients, 42)
        .expect("generated");
}

/// Counts what an import produces without keeping it.
#[derive(Default)]
struct Count {
    cases: u64,
    reports: u64,
}

impl CaseSink for Count {
    fn case(&mut self, _case: Case) -> Result<(), ImportError> {
        self.cases += 1;
        Ok(())
    }
}

impl ReportSink for Count {
    fn record(&mut self, _report: &RecordReport) -> std::io::Result<()> {
        self.reports += 1;
        Ok(())
    }
}

#[test]
fn a_thousand_generated_patients_import_row_by_row() {
    let dir = tempdir("ddxplus-1k");
    write_ddxplus_release(&dir, 1_000);
    let mut cases = Count::default();
    let mut reports = Count::default();
    let report =
        ddxplus::import_dir(&dir, &[], &options(), &mut cases, &mut reports).expect("imports");
    assert_eq!(
        (report.read, report.imported, report.failed),
        (1_000, 1_000, 0)
    );
    assert_eq!(cases.cases, 1_000);
}

/// The 100,000-patient file of the issue. Slow in a debug build (several minutes), so ignored by
/// default: run `cargo test --release --test it import::hundred_thousand -- --ignored`. Set
/// `DXSIM_IMPORT_KEEP` to a directory to keep the generated release there, e.g. to time the release
/// binary on it with `/usr/bin/time -v dxsim cases import ddxplus DIR --check`.
#[test]
#[ignore = "several minutes in a debug build; run with --release -- --ignored"]
fn hundred_thousand_generated_patients_import_in_one_stream() {
    let dir = std::env::var_os("DXSIM_IMPORT_KEEP")
        .map_or_else(|| tempdir("ddxplus-100k"), PathBuf::from);
    write_ddxplus_release(&dir, 100_000);
    let mut cases = Count::default();
    let mut reports = Count::default();
    let started = std::time::Instant::now();
    let report =
        ddxplus::import_dir(&dir, &[], &options(), &mut cases, &mut reports).expect("imports");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        (report.read, report.imported, report.failed),
        (100_000, 100_000, 0)
    );
    eprintln!(
        "100,000 patients in {seconds:.1} s: {:.0} records/s",
        100_000.0 / seconds
    );
}

#[test]
fn multiple_choice_mode_shows_an_imported_case_its_options() {
    let imported = agentclinic("agentclinic_nejm.jsonl", Form::Auto);
    let case = imported.case(1).clone();
    let library = library_of(vec![case.clone()]);
    let reset = |multiple_choice: bool, seed: u64| {
        let options = EpisodeOptions {
            case: CaseSelector {
                id: Some(case.id.clone()),
                ..CaseSelector::default()
            },
            multiple_choice,
            ..EpisodeOptions::default()
        };
        Env::new(library)
            .reset(seed, options)
            .expect("reset")
            .0
            .text
    };
    let plain = reset(false, 3);
    assert!(
        !plain.contains("Scabies") && !plain.contains("example.invalid"),
        "{plain}"
    );
    let choice = reset(true, 3);
    for expected in [
        "Image: https://example.invalid/images/nejm-fixture-1.jpg",
        "What is the most likely diagnosis?",
        "\nA) ",
        "\nE) ",
        ") Scabies",
        ") Psoriasis",
    ] {
        assert!(
            choice.contains(expected),
            "{expected} missing from {choice}"
        );
    }
    assert_eq!(choice, reset(true, 3), "the same seed shows the same order");
    // The source lists the answer first; across seeds it moves, so its place tells nothing.
    let letters: std::collections::BTreeSet<char> = (0..20)
        .filter_map(|seed| {
            let text = reset(true, seed);
            let at = text.find(") Scabies")?;
            text[..at].chars().last()
        })
        .collect();
    assert!(letters.len() > 1, "Scabies is always {letters:?}");
}

#[test]
fn a_batch_of_episodes_draws_ddxplus_patients_from_the_csv() {
    use dxsim::episode::{AutoReset, VecEnv};
    let source: &'static DdxplusSource = Box::leak(Box::new(
        DdxplusSource::open(&fixture("ddxplus"), None).expect("indexes"),
    ));
    let mut batch = VecEnv::with_source(source, 4, AutoReset::Disabled);
    let shown = batch.reset(11, EpisodeOptions::default()).expect("reset");
    assert_eq!(shown.len(), 4);
    for (observation, info) in &shown {
        assert!(
            info.case_handle.len() == 16 && !info.case_handle.contains("ddxplus"),
            "{}",
            info.case_handle
        );
        assert!(
            observation.text.contains("consults"),
            "{}",
            observation.text
        );
    }
    let steps = batch
        .step(vec![
            Action::Ask {
                text: "Tell me what brings you here".into()
            };
            4
        ])
        .expect("step");
    assert_eq!(steps.len(), 4);
}

#[test]
fn values_in_catalogue_units_are_flagged_by_the_catalogue_range() {
    let imported = agentclinic("agentclinic_osce.jsonl", Form::Auto);
    let abnormal = |line: u64, id: &str| {
        imported
            .case(line)
            .test(id)
            .map(|test| test.abnormal)
            .unwrap_or_else(|| panic!("line {line} lists no {id}"))
    };
    // "2.1 mIU/L" and "13.4 g/dL" are inside the ranges; words decide where no unit is readable.
    assert!(!abnormal(1, "tsh"));
    assert!(!abnormal(1, "hemoglobin"));
    assert!(abnormal(1, "achr_antibody"), "\"Elevated at 14 nmol/L\"");
    assert!(abnormal(2, "cbc"), "WBC 16.2 x10^9/L is high");
    assert!(!abnormal(4, "urinalysis"), "\"No blood, no leukocytes\"");
}

#[test]
fn mimic_style_quirks_are_read_and_each_is_reported() {
    let imported = agentclinic("agentclinic_mimic_quirks.jsonl", Form::Auto);
    assert_eq!(imported.report.imported, 5, "{:?}", imported.records);

    // Lab names with their specimen reach the catalogue tests that measure them; a group the
    // catalogue has no name for is walked into; a component is read in its group's specimen.
    let cll = imported.case(1);
    let cbc = report_of(cll, "cbc_no_diff");
    for part in [
        "White Blood Cells [Blood]: 48.2",
        "Red Blood Cells [Blood]: 4.10",
    ] {
        assert!(cbc.contains(part), "{cbc}");
    }
    assert!(report_of(cll, "hemoglobin").contains("12.1"));
    assert!(report_of(cll, "bun").contains("Urea Nitrogen: 18"));
    assert!(cll.test("sodium").is_some() && cll.test("case_blood_chemistry").is_none());
    assert!(report_of(cll, "urinalysis").contains("Red Blood Cells: 0-2"));
    let anion_gap = cll
        .test("case_anion_gap")
        .expect("kept as a case-specific test");
    assert!(
        anion_gap
            .aliases
            .iter()
            .any(|alias| alias == "Blood Chemistry Anion Gap")
    );

    // Pending and hedged text is never served as a result or a finding.
    assert!(cll.tests.iter().all(|test| {
        test.report
            .as_deref()
            .is_none_or(|report| !report.contains("Pending") && !report.contains("typically"))
    }));
    assert_eq!(
        cll.exam_finding("abdomen")
            .map(|finding| finding.text.as_str()),
        Some("Spleen tip palpable")
    );
    let repaired = imported.messages(1, NoteKind::Repaired).join("\n");
    for left_out in [
        "Chest_CT: left out `Pending`",
        "Bone_Marrow_Biopsy: left out `Would typically show",
    ] {
        assert!(repaired.contains(left_out), "{repaired}");
    }

    // The diagnosis gets its code through the judge's terminology, and text naming it by an
    // abbreviation marks its report confirmatory.
    assert!(
        cll.diagnosis.icd10.starts_with("C91.1"),
        "{}",
        cll.diagnosis.icd10
    );
    assert!(
        cll.test("flow_cytometry")
            .is_some_and(|test| test.confirmatory)
    );

    // A catalogue normal text that names the diagnosis is covered, not fatal.
    let haemorrhoids = imported.case(2);
    assert_eq!(
        haemorrhoids
            .exam_finding("rectal")
            .map(|finding| finding.text.as_str()),
        Some(dxsim::import::NOTHING_RECORDED)
    );
    assert!(
        imported
            .messages(2, NoteKind::Repaired)
            .iter()
            .any(|message| message.contains("normal finding of `rectal` names the diagnosis"))
    );

    // Text naming the diagnosis in another word order is found: the report is confirmatory.
    let hip = imported.case(3);
    assert!(
        hip.test("case_pelvic_x_ray")
            .is_some_and(|test| test.confirmatory)
    );

    // Every case has a reference work-up derived from its source, ordering what it reports.
    for case in &imported.cases {
        let ordered: Vec<&String> = case
            .reference_workup
            .iter()
            .filter_map(|step| match step {
                WorkupStep::Order { tests } => Some(tests),
                _ => None,
            })
            .flatten()
            .collect();
        // A catalogue normal covered because it named the diagnosis is no result of the source.
        let reported = case
            .tests
            .iter()
            .filter(|test| test.report.as_deref() != Some(dxsim::import::NOTHING_RECORDED))
            .count();
        assert_eq!(ordered.len(), reported, "{}", case.id);
        assert!(
            case.reference_workup
                .iter()
                .any(|step| matches!(step, WorkupStep::Ask { .. }))
        );
    }
}

#[test]
fn a_symptom_level_diagnosis_keeps_the_complaint_and_the_patient() {
    let imported = agentclinic("agentclinic_mimic_quirks.jsonl", Form::Auto);
    let chest_pain = imported.case(4);
    // The complaint is the diagnosis, so it is withheld like any naming text; the patient is
    // still presented, and what does not name it is kept.
    assert_eq!(
        chest_pain.presentation.summary,
        "A 58-year-old woman presents for assessment."
    );
    assert_eq!(
        (
            chest_pain.presentation.age_years,
            chest_pain.presentation.sex
        ),
        (58, Sex::Female)
    );
    assert!(
        chest_pain
            .history
            .iter()
            .any(|item| item.text.contains("shortness of breath on exertion"))
    );
    assert!(chest_pain.diagnosis.icd10.starts_with("R07"));
    assert!(
        imported
            .messages(4, NoteKind::Unmapped)
            .iter()
            .any(|message| message.contains("a symptom, not a disease")),
        "{:?}",
        imported.record(4)
    );
}

#[test]
fn vital_signs_and_body_measurements_listed_as_tests_join_the_examination() {
    let imported = agentclinic("agentclinic_mimic_quirks.jsonl", Form::Auto);
    let case = imported.case(4);
    assert_eq!(
        (case.vitals.systolic_bp, case.vitals.diastolic_bp),
        (146, 88)
    );
    // "Weight Lbs": the unit is in the key.
    assert_eq!(case.vitals.weight_kg, Some(82.6));
    assert_eq!(case.vitals.heart_rate, 84);
    assert!(
        case.exam_finding("general")
            .is_some_and(|finding| finding.text.contains("BMI: 31.2"))
    );
    for key in ["blood_pressure", "weight_lbs", "bmi"] {
        assert!(
            case.tests.iter().all(|test| !test.id.ends_with(key)),
            "{key} is no test"
        );
    }
    let repaired = imported.messages(4, NoteKind::Repaired).join("\n");
    assert!(
        repaired.contains("Test_Results.Blood Pressure: a vital sign"),
        "{repaired}"
    );
}

#[test]
fn race_is_kept_where_the_patient_can_tell_it() {
    let imported = agentclinic("agentclinic_mimic_quirks.jsonl", Form::Auto);
    let stated = imported.case(4);
    assert!(
        history_texts(stated, HistoryTopic::Social).contains(&"Race: Black/African American"),
        "{:?}",
        history_texts(stated, HistoryTopic::Social)
    );
    let inline = imported.case(5);
    assert!(
        history_texts(inline, HistoryTopic::Social).contains(&"Race: White"),
        "{:?}",
        history_texts(inline, HistoryTopic::Social)
    );
    assert_eq!(
        (inline.presentation.age_years, inline.presentation.sex),
        (71, Sex::Male)
    );
}

#[test]
fn an_all_normal_blood_count_in_the_sources_units_is_not_flagged() {
    let imported = agentclinic("agentclinic_mimic_quirks.jsonl", Form::Auto);
    let case = imported.case(5);
    let blood: Vec<&str> = case
        .tests
        .iter()
        .filter(|test| test.abnormal)
        .map(|test| test.id.as_str())
        .collect();
    assert!(blood.is_empty(), "flagged abnormal: {blood:?}");
    assert!(report_of(case, "cbc_no_diff").contains("Red Blood Cells [Blood]: 4.72 m/uL"));
}

#[test]
fn exam_sub_keys_keep_their_order_and_their_labels() {
    let imported = agentclinic("agentclinic_mimic_quirks.jsonl", Form::Auto);
    let case = imported.case(5);
    let neuro = &case
        .exam_finding("neurological")
        .expect("neurological")
        .text;
    let order = [
        "Mental Status: Alert",
        "Cranial Nerves: Intact",
        "Gait: Steady",
        "Coordination: Finger",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|part| {
            neuro
                .find(part)
                .unwrap_or_else(|| panic!("{part} missing: {neuro}"))
        })
        .collect();
    assert!(at.windows(2).all(|pair| pair[0] < pair[1]), "{neuro}");
    // A manoeuvre with no system of its own is filed by what it finds, under its own name.
    let all: String = case
        .exam
        .iter()
        .map(|finding| finding.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("Dix Hallpike: Right side down"), "{all}");
}

#[test]
fn nejm_actor_text_is_read_in_the_patients_own_voice() {
    let imported = agentclinic("agentclinic_nejm_extended.jsonl", Form::Auto);
    let case = imported.case(1);
    assert_eq!(
        (case.presentation.age_years, case.presentation.sex),
        (52, Sex::Male)
    );
    let told: Vec<&str> = case.history.iter().map(|item| item.text.as_str()).collect();
    for item in &told {
        for instruction in [
            "role",
            "Remember",
            "**",
            "reveal",
            "Answer in",
            "Instructions",
        ] {
            assert!(!item.contains(instruction), "`{instruction}` in {item:?}");
        }
    }
    assert!(
        told.contains(
            &"I noticed a red ring-shaped rash on my thigh ten days ago that has slowly grown."
        ),
        "{told:?}"
    );
    assert!(
        told.contains(&"I have felt achy and tired, with a mild fever."),
        "{told:?}"
    );
    assert!(
        !case.presentation.summary.contains("you"),
        "{}",
        case.presentation.summary
    );
    assert!(
        imported
            .messages(1, NoteKind::Repaired)
            .iter()
            .any(|message| message.contains("role-play")),
        "{:?}",
        imported.record(1)
    );
}

#[test]
fn a_plain_text_actor_brief_introduces_the_patient_from_its_labels() {
    let imported = agentclinic("agentclinic_nejm_extended.jsonl", Form::Auto);
    let case = imported.case(8);
    assert_eq!(
        (case.presentation.age_years, case.presentation.sex),
        (47, Sex::Female)
    );
    assert_eq!(
        case.presentation.summary,
        "A 47-year-old woman presents with: her right hand goes numb at night and wakes her."
    );
    let told: Vec<&str> = case.history.iter().map(|item| item.text.as_str()).collect();
    for expected in [
        "My right hand goes numb at night and wakes me.",
        "I work as a cashier.",
        "Mr. Lee, my manager, moved me to the scanner station last spring.",
    ] {
        assert!(told.contains(&expected), "{expected} missing from {told:?}");
    }
    assert!(
        told.iter()
            .all(|item| !item.contains("BRIEF") && !item.contains("Actor")),
        "{told:?}"
    );
}

#[test]
fn nejm_demographics_are_read_from_the_whole_story() {
    let imported = agentclinic("agentclinic_nejm_extended.jsonl", Form::Auto);
    let unstated_sex = imported.case(2);
    assert_eq!(
        (
            unstated_sex.presentation.age_years,
            unstated_sex.presentation.sex
        ),
        (60, Sex::Male)
    );
    let newborn = imported.case(3);
    assert_eq!(
        (
            newborn.presentation.age_years,
            newborn.presentation.age_months,
            newborn.presentation.sex
        ),
        (0, Some(0), Sex::Female)
    );
    let decade = imported.case(4);
    assert_eq!(
        (decade.presentation.age_years, decade.presentation.sex),
        (75, Sex::Male)
    );
    assert!(
        imported
            .messages(4, NoteKind::Repaired)
            .iter()
            .any(|message| message.contains("in his 70s")),
        "{:?}",
        imported.record(4)
    );
    for line in [2, 3] {
        assert!(
            imported
                .messages(line, NoteKind::Repaired)
                .iter()
                .all(|message| !message.contains("recorded as")),
            "{:?}",
            imported.record(line)
        );
    }
}

#[test]
fn nejm_questions_that_ask_for_no_diagnosis_are_skipped_unless_kept() {
    let imported = agentclinic("agentclinic_nejm_extended.jsonl", Form::Auto);
    assert_eq!(imported.report.read, 8);
    assert_eq!(imported.report.skipped, 2, "{:?}", imported.records);
    assert_eq!(imported.report.failed, 0, "{:?}", imported.records);
    assert_eq!(imported.report.imported, 6);
    for line in [5, 6] {
        let skipped = imported.messages(line, NoteKind::Skipped).join("\n");
        assert!(skipped.contains("asks for no diagnosis"), "{skipped}");
    }
    // "The most likely cause" is a diagnosis when the answer names a condition.
    assert_eq!(imported.case(7).diagnosis.name, "Herpes zoster");

    let mut cases = CollectCases::default();
    let mut sink = CollectSink::default();
    let kept = agentclinic::import_file(
        &fixture("agentclinic_nejm_extended.jsonl"),
        Form::Auto,
        &ImportOptions {
            keep_non_diagnostic: true,
            ..options()
        },
        &mut cases,
        &mut sink,
    )
    .expect("imports");
    assert_eq!((kept.imported, kept.skipped), (8, 0));
    let cat = cases
        .0
        .iter()
        .find(|case| case.import.as_ref().is_some_and(|import| import.line == 5))
        .expect("line 5 kept");
    assert_eq!(cat.diagnosis.name, "Cat");
}
