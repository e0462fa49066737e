//! The test catalogue (DESIGN.md §3.2): orderable tests, their analytes, exam systems and prices.
//!
//! The data lives in `gatekeeper/data/*.csv` (documented in `gatekeeper/data/README.md`) and is embedded in
//! the binary. [`Catalogue::builtin`] loads it once; [`Catalogue::from_csv`] loads any other set of files
//! with the same columns, and both check every cross-reference before handing out a catalogue.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use crate::case::{RangeGroup, RangeSubject, Sex};
use crate::money::Money;

const TESTS_CSV: &str = include_str!("../data/tests.csv");
const ANALYTES_CSV: &str = include_str!("../data/analytes.csv");
const EXAM_SYSTEMS_CSV: &str = include_str!("../data/exam_systems.csv");
const PRICES_CSV: &str = include_str!("../data/us-prices-2025.csv");
const ANALYTE_RANGES_CSV: &str = include_str!("../data/analyte_ranges.csv");

/// A problem in the catalogue's data files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// A file could not be parsed as CSV with the expected columns.
    #[error("{file}: {source}")]
    Csv {
        /// Which data file.
        file: &'static str,
        /// The parser's complaint, with the line.
        source: csv::Error,
    },
    /// A row is inconsistent with the rest of the data.
    #[error("{file}, line {line}: {message}")]
    Invalid {
        /// Which data file.
        file: &'static str,
        /// The 1-based line of the row.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// Category of an orderable test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Blood, urine and other fluid chemistry, haematology and serology.
    Lab,
    /// Cultures, smears, antigen and nucleic-acid tests for organisms.
    Microbiology,
    /// Cytology, histology and their special studies.
    Pathology,
    /// Radiography, CT, MRI, ultrasound, nuclear medicine.
    Imaging,
    /// ECG, echocardiography, monitoring, stress tests.
    Cardiology,
    /// EEG, nerve conduction, EMG, sleep studies.
    Neurology,
    /// Diagnostic procedures: endoscopy, biopsy, aspiration.
    Procedure,
}

impl Category {
    /// The name used in the data files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lab => "lab",
            Self::Microbiology => "microbiology",
            Self::Pathology => "pathology",
            Self::Imaging => "imaging",
            Self::Cardiology => "cardiology",
            Self::Neurology => "neurology",
            Self::Procedure => "procedure",
        }
    }
}

/// An orderable test.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TestDef {
    /// Our stable id (`cbc`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Category.
    pub category: Category,
    /// CPT/HCPCS numbers, a cross-reference only: one code, or a panel's component codes joined by `+`
    /// (`88185*15` for a code billed fifteen times).
    pub cpt: String,
    /// Medicare 2025 price.
    pub price: Money,
    /// Where the price comes from.
    pub price_basis: String,
    /// Other names and abbreviations.
    pub synonyms: Vec<String>,
    /// Equivalent studies (same region and modality, or the same procedure with or without a biopsy)
    /// share a family: a case's report for one answers an order for another.
    pub family: Option<String>,
    /// What a patient calls it, without an article ("scan of my head", "heart tracing"); the
    /// lowercased name when the catalogue gives none.
    pub lay_name: String,
    /// How the test is reported.
    pub reporting: Reporting,
}

/// How a test's result is reported.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reporting {
    /// As values of these analytes (indices into [`Catalogue::analytes`]).
    Analytes(Vec<usize>),
    /// As a text report; this is the report of a normal study.
    Report(String),
}

/// A measured component of one or more tests.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AnalyteDef {
    /// Global analyte id (`potassium`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Other names and abbreviations.
    pub synonyms: Vec<String>,
    /// Numeric or qualitative.
    pub kind: AnalyteKind,
    /// Reference ranges of children's age bands and pregnancy, where they differ from the adult one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_ranges: Vec<GroupRange>,
    /// What every report of this analyte shows, made once and shared by all of them.
    #[serde(skip)]
    #[schemars(skip)]
    labels: AnalyteLabels,
}

/// The text a report shows for an analyte, shared: cloning a label counts a reference rather than
/// copying a string, so a panel's report costs no allocation per label.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct AnalyteLabels {
    /// The analyte id.
    pub(crate) id: Arc<str>,
    /// The display name.
    pub(crate) name: Arc<str>,
    /// The unit, empty for a qualitative analyte.
    pub(crate) unit: Arc<str>,
    /// The reference as printed for a male patient, and for a female one: the range ("3.5–5.1"), or
    /// the normal result of a qualitative analyte.
    reference: [Arc<str>; 2],
}

/// What kind of value an analyte has.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnalyteKind {
    /// A number with a unit and reference range.
    Numeric {
        /// Conventional unit.
        unit: String,
        /// Adult reference range.
        range: [f64; 2],
        /// Female reference range where it differs.
        female_range: Option<[f64; 2]>,
        /// Decimal places reported.
        decimals: u8,
        /// The lowest and highest values any living patient could have (far wider than the
        /// reference range): a case value outside them is impossible, not abnormal.
        possible: [f64; 2],
        /// For a drug or toxin level: what the lab reports when the substance is absent ("not
        /// detected"), used instead of a mid-range value for a patient the case does not say took it.
        absent_text: Option<String>,
    },
    /// A word such as "negative".
    Qualitative {
        /// The normal result.
        normal_text: String,
    },
}

/// A reference range for one [`RangeGroup`], for both sexes or one.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GroupRange {
    /// The age band or trimester.
    pub group: RangeGroup,
    /// The sex it is for; `None` for both.
    pub sex: Option<Sex>,
    /// Low and high.
    pub range: [f64; 2],
}

impl AnalyteDef {
    /// The reference range for this patient, if numeric: their group's (sex-specific first), else the
    /// adult range of their sex.
    pub fn range_for_subject(&self, subject: RangeSubject) -> Option<[f64; 2]> {
        self.group_range(subject)
            .or_else(|| self.range_for(subject.sex))
    }

    /// The range of the patient's group, when the catalogue gives one.
    fn group_range(&self, subject: RangeSubject) -> Option<[f64; 2]> {
        let group = subject.group?;
        let mut both = None;
        for entry in self
            .group_ranges
            .iter()
            .filter(|entry| entry.group == group)
        {
            match entry.sex {
                Some(sex) if sex == subject.sex => return Some(entry.range),
                None => both = Some(entry.range),
                Some(_) => {}
            }
        }
        both
    }

    /// The reference range for an adult of the given sex, if numeric.
    pub fn range_for(&self, sex: Sex) -> Option<[f64; 2]> {
        match &self.kind {
            AnalyteKind::Numeric {
                range,
                female_range,
                ..
            } => Some(match (sex, female_range) {
                (Sex::Female, Some(female)) => *female,
                _ => *range,
            }),
            AnalyteKind::Qualitative { .. } => None,
        }
    }

    /// The unit, empty for a qualitative analyte.
    pub fn unit(&self) -> &str {
        match &self.kind {
            AnalyteKind::Numeric { unit, .. } => unit,
            AnalyteKind::Qualitative { .. } => "",
        }
    }

    /// A definition with its report labels made.
    fn new(id: String, name: String, synonyms: Vec<String>, kind: AnalyteKind) -> AnalyteDef {
        let mut definition = AnalyteDef {
            id,
            name,
            synonyms,
            kind,
            group_ranges: Vec::new(),
            labels: AnalyteLabels::default(),
        };
        let reference = |sex| -> Arc<str> {
            match &definition.kind {
                AnalyteKind::Numeric { decimals, .. } => definition
                    .range_for(sex)
                    .map(|range| reference_range(range, *decimals))
                    .unwrap_or_default()
                    .into(),
                AnalyteKind::Qualitative { normal_text } => normal_text.as_str().into(),
            }
        };
        let labels = AnalyteLabels {
            id: definition.id.as_str().into(),
            name: definition.name.as_str().into(),
            unit: definition.unit().into(),
            reference: [reference(Sex::Male), reference(Sex::Female)],
        };
        definition.labels = labels;
        definition
    }

    /// The labels every report of this analyte shows.
    pub(crate) fn labels(&self) -> &AnalyteLabels {
        &self.labels
    }

    /// The reference as printed for this patient: the range ("3.5–5.1"), or the normal result of a
    /// qualitative analyte. Adult references are made once and shared.
    pub(crate) fn reference_text(&self, subject: RangeSubject) -> Arc<str> {
        match (&self.kind, self.group_range(subject)) {
            (AnalyteKind::Numeric { decimals, .. }, Some(range)) => {
                reference_range(range, *decimals).into()
            }
            _ => Arc::clone(match subject.sex {
                Sex::Male => &self.labels.reference[0],
                Sex::Female => &self.labels.reference[1],
            }),
        }
    }
}

/// A reference range as printed, with the analyte's decimals ("3.5–5.1").
pub(crate) fn reference_range([low, high]: [f64; 2], decimals: u8) -> String {
    format!(
        "{}–{}",
        crate::synthetic::format_value(low, decimals),
        crate::synthetic::format_value(high, decimals)
    )
}

/// A system the examiner can examine.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ExamSystem {
    /// System id (`cardiovascular`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Other ways to ask for it.
    pub synonyms: Vec<String>,
    /// The finding reported when the case lists none (empty for `vitals`).
    pub normal_text: String,
}

/// The whole catalogue: tests, analytes and exam systems, with id lookups.
#[derive(Debug, Clone)]
pub struct Catalogue {
    tests: Vec<TestDef>,
    analytes: Vec<AnalyteDef>,
    systems: Vec<ExamSystem>,
    // Looked up on every order and report: hashed with FxHash, much cheaper than SipHash on short
    // ids (the keys are our own catalogue ids, so there is nothing to guard against).
    test_index: FxHashMap<String, usize>,
    analyte_index: FxHashMap<String, usize>,
    system_index: FxHashMap<String, usize>,
    /// For each analyte, the tests that report it, cheapest first.
    analyte_tests: Vec<Vec<usize>>,
}

/// The CSV files a catalogue is built from.
#[derive(Debug, Clone, Copy)]
pub struct CatalogueSources<'a> {
    /// Contents of `tests.csv`.
    pub tests: &'a str,
    /// Contents of `analytes.csv`.
    pub analytes: &'a str,
    /// Contents of `exam_systems.csv`.
    pub exam_systems: &'a str,
    /// Contents of `us-prices-2025.csv`.
    pub prices: &'a str,
    /// Contents of `analyte_ranges.csv` (children's and pregnancy ranges); may be empty.
    pub analyte_ranges: &'a str,
}

#[derive(Deserialize)]
struct TestRow {
    id: String,
    name: String,
    category: Category,
    cpt: String,
    #[serde(default)]
    billed_as: String,
    synonyms: String,
    family: String,
    #[serde(default)]
    lay_name: String,
    normal_report: String,
}

#[derive(Deserialize)]
struct AnalyteRow {
    test_id: String,
    analyte: String,
    name: String,
    synonyms: String,
    unit: String,
    low: Option<f64>,
    high: Option<f64>,
    low_female: Option<f64>,
    high_female: Option<f64>,
    decimals: Option<u8>,
    normal_text: String,
    min_possible: Option<f64>,
    max_possible: Option<f64>,
}

#[derive(Deserialize)]
struct GroupRangeRow {
    analyte: String,
    population: String,
    sex: String,
    low: f64,
    high: f64,
}

#[derive(Deserialize)]
struct SystemRow {
    id: String,
    name: String,
    synonyms: String,
    normal_text: String,
}

/// Which part of a service a row of `us-prices-2025.csv` prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PricePart {
    /// The whole service as billed on its own: a CLFS rate or a PFS non-facility (office) amount.
    Whole,
    /// The physician's part of a hospital service (PFS modifier-26, or the facility amount of a
    /// physician-only code).
    Professional,
    /// The hospital's facility fee (OPPS), never a price on its own.
    Facility,
}

impl PricePart {
    /// The part a row prices, read from its `price_basis`.
    fn of_basis(basis: &str) -> PricePart {
        if basis.starts_with("CMS OPPS") {
            Self::Facility
        } else if basis.contains("modifier-26")
            || basis.starts_with("CMS PFS CY2025 national professional amount")
        {
            Self::Professional
        } else {
            Self::Whole
        }
    }
}

/// Prices by code and part, with their basis.
type PriceTable = HashMap<(String, PricePart), (Money, String)>;

/// The price of a test: the sum over its codes (`85610+85730`, `88185*15` for a code billed 15
/// times) of each code's office or laboratory price, or, `billed_as = hospital`, of its professional
/// part plus its facility fee (when OPPS pays one separately). Returns the price and its basis.
fn test_price<'a>(
    codes: &str,
    billed_as: &str,
    prices: &'a PriceTable,
) -> Result<(Money, String), String> {
    let hospital = match billed_as {
        "" | "office" => false,
        "hospital" => true,
        other => {
            return Err(format!(
                "billed_as `{other}` is not office, hospital or empty"
            ));
        }
    };
    let mut total = Money(0);
    let mut bases: Vec<&str> = Vec::new();
    let mut count = 0;
    for term in codes.split('+').map(str::trim) {
        let (code, times) = match term.split_once('*') {
            Some((code, times)) => (
                code.trim(),
                times
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|times| *times >= 1)
                    .ok_or_else(|| format!("`{term}` needs a whole number of times after `*`"))?,
            ),
            None => (term, 1),
        };
        let lookup = |part: PricePart| prices.get(&(code.to_string(), part));
        let mut add = |(price, basis): &'a (Money, String)| {
            total += Money(price.0 * times);
            count += times;
            if !bases.contains(&basis.as_str()) {
                bases.push(basis);
            }
        };
        if hospital {
            let professional = lookup(PricePart::Professional)
                .or_else(|| lookup(PricePart::Whole))
                .ok_or_else(|| format!("code {code} has no professional or whole price row"))?;
            add(professional);
            if let Some(facility) = lookup(PricePart::Facility) {
                add(facility);
            }
        } else {
            let whole = lookup(PricePart::Whole).ok_or_else(|| {
                format!(
                    "code {code} is not a priced office or laboratory row of us-prices-2025.csv"
                )
            })?;
            add(whole);
        }
    }
    let basis = match (hospital, bases.as_slice()) {
        (true, _) => {
            "CMS 2025 hospital outpatient: PFS professional part plus the OPPS facility fee"
                .to_string()
        }
        (false, [only]) if count == 1 => (*only).to_string(),
        (false, [only]) => format!("sum of {count} codes: {only}"),
        (false, _) => format!("sum of {count} codes: {}", bases.join("; ")),
    };
    Ok((total, basis))
}

#[derive(Deserialize)]
struct PriceRow {
    code: String,
    price_usd: f64,
    price_basis: String,
}

fn split_synonyms(field: &str) -> Vec<String> {
    field
        .split('|')
        .map(str::trim)
        .filter(|synonym| !synonym.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_snake_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn rows<T: for<'de> Deserialize<'de>>(
    file: &'static str,
    data: &str,
) -> Result<Vec<(u64, T)>, CatalogueError> {
    let mut reader = csv::Reader::from_reader(data.as_bytes());
    reader
        .deserialize()
        .map(|row| {
            let row: T = row.map_err(|source| CatalogueError::Csv { file, source })?;
            Ok(row)
        })
        .zip(2u64..)
        .map(|(row, line)| row.map(|row| (line, row)))
        .collect()
}

impl Catalogue {
    /// The built-in catalogue, parsed once per process.
    ///
    /// # Panics
    /// Never in a released build: the embedded data is checked by the test suite, so a failure here is a
    /// bug in the shipped files.
    pub fn builtin() -> &'static Catalogue {
        static BUILTIN: OnceLock<Catalogue> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Catalogue::from_csv(CatalogueSources {
                tests: TESTS_CSV,
                analytes: ANALYTES_CSV,
                exam_systems: EXAM_SYSTEMS_CSV,
                prices: PRICES_CSV,
                analyte_ranges: ANALYTE_RANGES_CSV,
            })
            .unwrap_or_else(|error| panic!("the built-in catalogue data is broken: {error}"))
        })
    }

    /// Builds a catalogue from CSV text, checking ids, prices and cross-references.
    pub fn from_csv(sources: CatalogueSources<'_>) -> Result<Catalogue, CatalogueError> {
        let prices = Self::load_prices(sources.prices)?;
        let mut catalogue = Catalogue {
            tests: Vec::new(),
            analytes: Vec::new(),
            systems: Vec::new(),
            test_index: FxHashMap::default(),
            analyte_index: FxHashMap::default(),
            system_index: FxHashMap::default(),
            analyte_tests: Vec::new(),
        };
        catalogue.load_tests(sources.tests, &prices)?;
        catalogue.load_analytes(sources.analytes)?;
        catalogue.load_group_ranges(sources.analyte_ranges)?;
        catalogue.load_systems(sources.exam_systems)?;
        for (index, test) in catalogue.tests.iter().enumerate() {
            if let Reporting::Analytes(analytes) = &test.reporting {
                for &analyte in analytes {
                    catalogue.analyte_tests[analyte].push(index);
                }
            }
        }
        let tests = &catalogue.tests;
        for reporting_tests in &mut catalogue.analyte_tests {
            reporting_tests.sort_by_key(|&test| (tests[test].price, test));
        }
        Ok(catalogue)
    }

    fn load_prices(data: &str) -> Result<PriceTable, CatalogueError> {
        let mut prices = PriceTable::default();
        for (_, row) in rows::<PriceRow>("us-prices-2025.csv", data)? {
            let part = PricePart::of_basis(&row.price_basis);
            prices.insert(
                (row.code, part),
                (Money::from_dollars(row.price_usd), row.price_basis),
            );
        }
        Ok(prices)
    }

    fn load_tests(&mut self, data: &str, prices: &PriceTable) -> Result<(), CatalogueError> {
        const FILE: &str = "tests.csv";
        for (line, row) in rows::<TestRow>(FILE, data)? {
            let invalid = |message: String| CatalogueError::Invalid {
                file: FILE,
                line,
                message,
            };
            if !is_snake_id(&row.id) {
                return Err(invalid(format!("test id `{}` is not snake_case", row.id)));
            }
            if row.name.trim().is_empty() {
                return Err(invalid(format!("test `{}` has no name", row.id)));
            }
            let (price, basis) = test_price(&row.cpt, row.billed_as.trim(), prices)
                .map_err(|message| invalid(format!("test `{}`: {message}", row.id)))?;
            let reporting = if row.normal_report.trim().is_empty() {
                Reporting::Analytes(Vec::new())
            } else {
                Reporting::Report(row.normal_report.trim().to_string())
            };
            if self
                .test_index
                .insert(row.id.clone(), self.tests.len())
                .is_some()
            {
                return Err(invalid(format!("test id `{}` appears twice", row.id)));
            }
            self.tests.push(TestDef {
                id: row.id,
                name: row.name.trim().to_string(),
                category: row.category,
                cpt: row.cpt,
                price,
                price_basis: basis,
                synonyms: split_synonyms(&row.synonyms),
                family: Some(row.family.trim().to_string()).filter(|family| !family.is_empty()),
                lay_name: match row.lay_name.trim() {
                    "" => row.name.trim().to_lowercase(),
                    lay => lay.to_string(),
                },
                reporting,
            });
        }
        Ok(())
    }

    fn load_analytes(&mut self, data: &str) -> Result<(), CatalogueError> {
        const FILE: &str = "analytes.csv";
        for (line, row) in rows::<AnalyteRow>(FILE, data)? {
            let invalid = |message: String| CatalogueError::Invalid {
                file: FILE,
                line,
                message,
            };
            let Some(&test) = self.test_index.get(&row.test_id) else {
                return Err(invalid(format!("unknown test `{}`", row.test_id)));
            };
            if !is_snake_id(&row.analyte) {
                return Err(invalid(format!(
                    "analyte id `{}` is not snake_case",
                    row.analyte
                )));
            }
            let kind = match (row.low, row.high) {
                (Some(low), Some(high)) if low < high => AnalyteKind::Numeric {
                    unit: row.unit.trim().to_string(),
                    range: [low, high],
                    female_range: match (row.low_female, row.high_female) {
                        (Some(low), Some(high)) if low < high => Some([low, high]),
                        (None, None) => None,
                        _ => {
                            return Err(invalid(format!(
                                "analyte `{}`: female range needs low < high",
                                row.analyte
                            )));
                        }
                    },
                    decimals: row.decimals.unwrap_or(0),
                    possible: match (row.min_possible, row.max_possible) {
                        (Some(min), Some(max))
                            if min <= low
                                && max >= high
                                && row.low_female.is_none_or(|female| min <= female)
                                && row.high_female.is_none_or(|female| max >= female) =>
                        {
                            [min, max]
                        }
                        _ => {
                            return Err(invalid(format!(
                                "analyte `{}`: min_possible and max_possible must enclose its reference ranges",
                                row.analyte
                            )));
                        }
                    },
                    absent_text: Some(row.normal_text.trim().to_string())
                        .filter(|text| !text.is_empty()),
                },
                (None, None) if !row.normal_text.trim().is_empty() => AnalyteKind::Qualitative {
                    normal_text: row.normal_text.trim().to_string(),
                },
                _ => {
                    return Err(invalid(format!(
                        "analyte `{}` needs either low < high (numeric) or a normal_text (qualitative)",
                        row.analyte
                    )));
                }
            };
            let definition = AnalyteDef::new(
                row.analyte.clone(),
                row.name.trim().to_string(),
                split_synonyms(&row.synonyms),
                kind,
            );
            let analyte = match self.analyte_index.get(&row.analyte) {
                Some(&existing) => {
                    let known = &self.analytes[existing];
                    if known.kind != definition.kind || known.name != definition.name {
                        return Err(invalid(format!(
                            "analyte `{}` is defined differently from an earlier row",
                            row.analyte
                        )));
                    }
                    existing
                }
                None => {
                    self.analyte_index
                        .insert(row.analyte.clone(), self.analytes.len());
                    self.analytes.push(definition);
                    self.analyte_tests.push(Vec::new());
                    self.analytes.len() - 1
                }
            };
            match &mut self.tests[test].reporting {
                Reporting::Analytes(list) if !list.contains(&analyte) => list.push(analyte),
                Reporting::Analytes(_) => {
                    return Err(invalid(format!(
                        "analyte `{}` listed twice for test `{}`",
                        row.analyte, row.test_id
                    )));
                }
                Reporting::Report(_) => {
                    return Err(invalid(format!(
                        "test `{}` has a normal_report, so it cannot also have analytes",
                        row.test_id
                    )));
                }
            }
        }
        if let Some(test) = self
            .tests
            .iter()
            .find(|test| matches!(&test.reporting, Reporting::Analytes(list) if list.is_empty()))
        {
            return Err(CatalogueError::Invalid {
                file: "tests.csv",
                line: 0,
                message: format!(
                    "test `{}` has neither a normal_report nor any analyte in analytes.csv",
                    test.id
                ),
            });
        }
        Ok(())
    }

    /// Reads `analyte_ranges.csv`: a numeric analyte's range for a childhood age band or trimester,
    /// inside what any patient could have, once per group and sex.
    fn load_group_ranges(&mut self, data: &str) -> Result<(), CatalogueError> {
        const FILE: &str = "analyte_ranges.csv";
        if data.trim().is_empty() {
            return Ok(());
        }
        for (line, row) in rows::<GroupRangeRow>(FILE, data)? {
            let invalid = |message: String| CatalogueError::Invalid {
                file: FILE,
                line,
                message,
            };
            let Some(&index) = self.analyte_index.get(&row.analyte) else {
                return Err(invalid(format!("unknown analyte `{}`", row.analyte)));
            };
            let Some(group) = RangeGroup::parse(row.population.trim()) else {
                let known: Vec<&str> = RangeGroup::ALL.iter().map(|group| group.as_str()).collect();
                return Err(invalid(format!(
                    "population `{}` is not one of: {}",
                    row.population,
                    known.join(", ")
                )));
            };
            let sex = match row.sex.trim() {
                "" => None,
                "female" => Some(Sex::Female),
                "male" => Some(Sex::Male),
                other => {
                    return Err(invalid(format!(
                        "sex `{other}` is not female, male or empty"
                    )));
                }
            };
            let analyte = &mut self.analytes[index];
            let AnalyteKind::Numeric { possible, .. } = &analyte.kind else {
                return Err(invalid(format!(
                    "analyte `{}` is qualitative: it has no range",
                    row.analyte
                )));
            };
            if !(row.low < row.high && possible[0] <= row.low && row.high <= possible[1]) {
                return Err(invalid(format!(
                    "analyte `{}`: the range {}–{} needs low < high, inside {}–{}",
                    row.analyte, row.low, row.high, possible[0], possible[1]
                )));
            }
            if analyte
                .group_ranges
                .iter()
                .any(|entry| entry.group == group && entry.sex == sex)
            {
                return Err(invalid(format!(
                    "analyte `{}` has two ranges for {}",
                    row.analyte,
                    group.as_str()
                )));
            }
            analyte.group_ranges.push(GroupRange {
                group,
                sex,
                range: [row.low, row.high],
            });
        }
        Ok(())
    }

    fn load_systems(&mut self, data: &str) -> Result<(), CatalogueError> {
        const FILE: &str = "exam_systems.csv";
        for (line, row) in rows::<SystemRow>(FILE, data)? {
            if !is_snake_id(&row.id) || self.system_index.contains_key(&row.id) {
                return Err(CatalogueError::Invalid {
                    file: FILE,
                    line,
                    message: format!("exam system id `{}` is malformed or repeated", row.id),
                });
            }
            if row.id != "vitals" && row.normal_text.trim().is_empty() {
                return Err(CatalogueError::Invalid {
                    file: FILE,
                    line,
                    message: format!("exam system `{}` has no normal_text", row.id),
                });
            }
            self.system_index.insert(row.id.clone(), self.systems.len());
            self.systems.push(ExamSystem {
                id: row.id,
                name: row.name.trim().to_string(),
                synonyms: split_synonyms(&row.synonyms),
                normal_text: row.normal_text.trim().to_string(),
            });
        }
        if !self.system_index.contains_key("vitals") {
            return Err(CatalogueError::Invalid {
                file: FILE,
                line: 0,
                message: "the `vitals` system is missing".to_string(),
            });
        }
        Ok(())
    }

    /// All tests, in file order.
    pub fn tests(&self) -> &[TestDef] {
        &self.tests
    }

    /// All analytes, in first-appearance order.
    pub fn analytes(&self) -> &[AnalyteDef] {
        &self.analytes
    }

    /// All exam systems, in file order.
    pub fn systems(&self) -> &[ExamSystem] {
        &self.systems
    }

    /// The test with this id.
    pub fn test(&self, id: &str) -> Option<&TestDef> {
        self.test_index.get(id).map(|&index| &self.tests[index])
    }

    /// The index of the test with this id.
    pub fn test_position(&self, id: &str) -> Option<usize> {
        self.test_index.get(id).copied()
    }

    /// The analyte with this id.
    pub fn analyte(&self, id: &str) -> Option<&AnalyteDef> {
        self.analyte_index
            .get(id)
            .map(|&index| &self.analytes[index])
    }

    /// The index of the analyte with this id.
    pub fn analyte_position(&self, id: &str) -> Option<usize> {
        self.analyte_index.get(id).copied()
    }

    /// The exam system with this id.
    pub fn system(&self, id: &str) -> Option<&ExamSystem> {
        self.system_index.get(id).map(|&index| &self.systems[index])
    }

    /// The family of equivalent studies a test belongs to, if any.
    pub fn family(&self, id: &str) -> Option<&str> {
        self.test(id)?.family.as_deref()
    }

    /// Whether two tests are the same study: the same id, or members of one family.
    pub fn same_study(&self, a: &str, b: &str) -> bool {
        a == b
            || self
                .family(a)
                .is_some_and(|family| self.family(b) == Some(family))
    }

    /// The tests that report an analyte (by index), cheapest first.
    pub fn tests_reporting(&self, analyte: usize) -> &[usize] {
        &self.analyte_tests[analyte]
    }

    /// The analytes a test reports (empty for a text-reported test).
    pub fn test_analytes(&self, test: &TestDef) -> impl Iterator<Item = &AnalyteDef> {
        let indices: &[usize] = match &test.reporting {
            Reporting::Analytes(list) => list,
            Reporting::Report(_) => &[],
        };
        indices.iter().map(|&index| &self.analytes[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRICES: &str = "code_system,code,short_name_in_our_words,category,price_usd,price_basis,source\n\
        CPT,85025,Blood count,lab,7.77,CMS CLFS,x\n\
        CPT,85610,PT,lab,4.29,CMS CLFS,x\n\
        CPT,85730,aPTT,lab,6.01,CMS CLFS,x\n\
        CPT,71046,Chest film,imaging,32.67,CMS PFS,x\n\
        CPT,71046,Chest film facility,imaging,99.00,CMS OPPS facility,x\n\
        CPT,70450,CT head,imaging,105.13,CMS PFS global,x\n\
        CPT,70450,CT head professional,imaging,38.82,CMS PFS modifier-26 professional component,x\n\
        CPT,70450,CT head facility,imaging,106.34,CMS OPPS facility,x\n";
    const SYSTEMS: &str = "id,name,synonyms,normal_text\nvitals,Vital signs,obs,\n";

    fn sources<'a>(tests: &'a str, analytes: &'a str) -> CatalogueSources<'a> {
        CatalogueSources {
            tests,
            analytes,
            exam_systems: SYSTEMS,
            prices: PRICES,
            analyte_ranges: "",
        }
    }

    #[test]
    fn builtin_catalogue_loads_and_is_large_enough() {
        let catalogue = Catalogue::builtin();
        assert!(
            catalogue.tests().len() >= 250,
            "{} tests",
            catalogue.tests().len()
        );
        assert!(catalogue.test("cbc").is_some());
        assert!(catalogue.system("vitals").is_some());
    }

    #[test]
    fn price_comes_from_the_primary_row_not_the_facility_fee() {
        let catalogue = Catalogue::from_csv(sources(
            "id,name,category,cpt,synonyms,family,normal_report\nchest_xray,Chest X-ray,imaging,71046,CXR,,Clear lungs.\n",
            "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text\n",
        ))
        .expect("valid catalogue");
        let test = catalogue.test("chest_xray").expect("present");
        assert_eq!(test.price, Money(3267));
        assert_eq!(test.price_basis, "CMS PFS");
    }

    #[test]
    fn a_panel_is_the_sum_of_its_codes_and_a_hospital_test_adds_the_facility_fee() {
        let catalogue = Catalogue::from_csv(sources(
            "id,name,category,cpt,billed_as,synonyms,family,normal_report\n\
             coags,Coagulation screen,lab,85610+85730,,,,Normal.\n\
             two_counts,Two counts,lab,85025*2,,,,Normal.\n\
             ct_head,CT head,imaging,70450,hospital,,,Normal.\n\
             ct_head_office,CT head in an office,imaging,70450,office,,,Normal.\n",
            "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text\n",
        ))
        .expect("valid catalogue");
        let price = |id: &str| catalogue.test(id).expect("present").price;
        assert_eq!(price("coags"), Money(1030));
        assert_eq!(price("two_counts"), Money(1554));
        assert_eq!(price("ct_head"), Money(3882 + 10634));
        assert_eq!(price("ct_head_office"), Money(10513));
        assert!(
            catalogue
                .test("ct_head")
                .expect("present")
                .price_basis
                .contains("professional part plus the OPPS facility fee")
        );
        let error = Catalogue::from_csv(sources(
            "id,name,category,cpt,billed_as,synonyms,family,normal_report\nodd,Odd,lab,85610,clinic,,,Fine.\n",
            "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text\n",
        ))
        .expect_err("unknown billing setting");
        assert!(error.to_string().contains("billed_as `clinic`"), "{error}");
    }

    #[test]
    fn a_childs_and_a_pregnancy_range_replace_the_adults() {
        let mut data = sources(
            "id,name,category,cpt,synonyms,family,normal_report\ncbc,Blood count,lab,85025,,,\n",
            "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text,min_possible,max_possible\n\
             cbc,hemoglobin,Haemoglobin,Hb,g/dL,13.5,17.5,12.0,15.5,1,,1,25\n",
        );
        data.analyte_ranges = "analyte,population,sex,low,high\n\
            hemoglobin,neonate,,13.5,21.5\n\
            hemoglobin,adolescent,male,13.0,16.5\n\
            hemoglobin,pregnancy_third_trimester,,11.0,14.5\n";
        let catalogue = Catalogue::from_csv(data).expect("valid catalogue");
        let hb = catalogue.analyte("hemoglobin").expect("present");
        let subject = |sex, group| RangeSubject { sex, group };
        assert_eq!(
            hb.range_for_subject(subject(Sex::Male, Some(RangeGroup::Neonate))),
            Some([13.5, 21.5])
        );
        assert_eq!(
            hb.range_for_subject(subject(Sex::Male, Some(RangeGroup::Adolescent))),
            Some([13.0, 16.5])
        );
        // No adolescent female row: the adult female range stands.
        assert_eq!(
            hb.range_for_subject(subject(Sex::Female, Some(RangeGroup::Adolescent))),
            Some([12.0, 15.5])
        );
        assert_eq!(
            hb.range_for_subject(subject(
                Sex::Female,
                Some(RangeGroup::PregnancyThirdTrimester)
            )),
            Some([11.0, 14.5])
        );
        assert_eq!(
            hb.reference_text(subject(Sex::Male, Some(RangeGroup::Neonate)))
                .as_ref(),
            "13.5–21.5"
        );
        assert_eq!(
            hb.range_for_subject(RangeSubject::adult(Sex::Male)),
            Some([13.5, 17.5])
        );

        let mut outside = sources(
            "id,name,category,cpt,synonyms,family,normal_report\ncbc,Blood count,lab,85025,,,\n",
            "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text,min_possible,max_possible\n\
             cbc,hemoglobin,Haemoglobin,Hb,g/dL,13.5,17.5,12.0,15.5,1,,1,25\n",
        );
        outside.analyte_ranges = "analyte,population,sex,low,high\nhemoglobin,toddler,,10,14\n";
        let error = Catalogue::from_csv(outside).expect_err("unknown population");
        assert!(
            error.to_string().contains("population `toddler`"),
            "{error}"
        );
    }

    #[test]
    fn unknown_cpt_is_rejected_with_its_line() {
        let error = Catalogue::from_csv(sources(
            "id,name,category,cpt,synonyms,family,normal_report\nodd,Odd test,lab,99999,,,Fine.\n",
            "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text\n",
        ))
        .expect_err("unknown CPT");
        assert_eq!(
            error.to_string(),
            "tests.csv, line 2: test `odd`: code 99999 is not a priced office or laboratory row of us-prices-2025.csv"
        );
    }

    #[test]
    fn analyte_defined_two_ways_is_rejected() {
        let error = Catalogue::from_csv(sources(
            "id,name,category,cpt,synonyms,family,normal_report\ncbc,CBC,lab,85025,,,\nhb,Hb,lab,85025,,,\n",
            "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text,min_possible,max_possible\n\
             cbc,hemoglobin,Hemoglobin,,g/dL,13.5,17.5,,,1,,0.5,27\n\
             hb,hemoglobin,Hemoglobin,,g/dL,12,17.5,,,1,,0.5,27\n",
        ))
        .expect_err("inconsistent analyte");
        assert!(error.to_string().contains("line 3"), "{error}");
    }

    #[test]
    fn possible_values_must_enclose_the_reference_range() {
        for bounds in [",", "14,27", "0.5,16"] {
            let error = Catalogue::from_csv(sources(
                "id,name,category,cpt,synonyms,family,normal_report\ncbc,CBC,lab,85025,,,\n",
                &format!(
                    "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text,min_possible,max_possible\n\
                     cbc,hemoglobin,Hemoglobin,,g/dL,13.5,17.5,,,1,,{bounds}\n"
                ),
            ))
            .expect_err("bounds that do not enclose the range");
            assert!(
                error.to_string().contains("min_possible"),
                "{bounds}: {error}"
            );
        }
    }

    #[test]
    fn test_without_results_of_either_kind_is_rejected() {
        let error = Catalogue::from_csv(sources(
            "id,name,category,cpt,synonyms,family,normal_report\ncbc,CBC,lab,85025,,,\n",
            "test_id,analyte,name,synonyms,unit,low,high,low_female,high_female,decimals,normal_text\n",
        ))
        .expect_err("empty test");
        assert!(error.to_string().contains("neither"), "{error}");
    }
}
