//! The ICD-10-CM code table: code format, lookup and hierarchy.
//!
//! The table (`data/icd10cm.tsv`, public domain from CDC/NCHS, extracted by `tools/extract_icd10cm.py`)
//! holds every node of the classification: chapters, blocks ("I20-I25"), categories ("I21"),
//! subcategories and billable codes, each with its parent. Case validation uses it to reject codes that do
//! not exist; the judge uses the hierarchy to tell "same category" from "same chapter".
//!
//! Beside it, `data/icd10cm-terms.tsv` holds the tabular list's inclusion terms and "includes" notes
//! (E27.1 "Addison's disease", B27 "glandular fever"): the synonyms the classification itself gives,
//! read by the judge through [`Icd10::terms`].

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE_TSV: &str = include_str!("../data/icd10cm.tsv");
const TERMS_TSV: &str = include_str!("../data/icd10cm-terms.tsv");

/// Where a synonym of a code comes from in the tabular list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    /// An inclusion term listed under the code: another name for what it classifies.
    Inclusion,
    /// An "includes" note of a category: a condition it covers.
    Includes,
}

/// One inclusion term or "includes" note of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcdTerm {
    /// The code it belongs to.
    pub code: &'static str,
    /// Which list of the tabular it comes from.
    pub kind: TermKind,
    /// The term as the tabular list writes it ("Addison's disease").
    pub term: &'static str,
}

/// Where a node sits in the classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcdKind {
    /// A chapter ("9", circulatory system).
    Chapter,
    /// A block of categories ("I20-I25").
    Block,
    /// A three-character category ("I21").
    Category,
    /// A non-billable node below a category ("I21.0").
    Subcategory,
    /// A billable code.
    Code,
}

/// One node of the ICD-10-CM tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcdEntry {
    /// The code as written (`I21.4`, `I20-I25`, `9`).
    pub code: &'static str,
    /// Index of the parent node, `None` for a chapter.
    parent: Option<usize>,
    /// Kind of node.
    pub kind: IcdKind,
    /// Whether a claim may carry this code.
    pub billable: bool,
    /// The official description.
    pub description: &'static str,
}

/// The loaded ICD-10-CM table.
#[derive(Debug)]
pub struct Icd10 {
    entries: Vec<IcdEntry>,
    index: HashMap<&'static str, usize>,
}

/// Whether `code` has the shape of an ICD-10-CM code: a letter, a digit, a digit or letter, then
/// optionally a dot and one to four digits or letters (`I21`, `E11.65`, `S72.001A`).
///
/// ```
/// use dxsim_gatekeeper::icd10::is_well_formed;
/// assert!(is_well_formed("I21.4"));
/// assert!(!is_well_formed("I214"));
/// assert!(!is_well_formed("21.4"));
/// ```
pub fn is_well_formed(code: &str) -> bool {
    let (head, tail) = match code.split_once('.') {
        Some((head, tail)) => (head, Some(tail)),
        None => (code, None),
    };
    let head: Vec<char> = head.chars().collect();
    let head_ok = head.len() == 3
        && head[0].is_ascii_uppercase()
        && head[1].is_ascii_digit()
        && (head[2].is_ascii_digit() || head[2].is_ascii_uppercase());
    let tail_ok = tail.is_none_or(|tail| {
        (1..=4).contains(&tail.len())
            && tail
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    });
    head_ok && tail_ok
}

impl Icd10 {
    /// The built-in table, parsed once per process.
    ///
    /// # Panics
    /// Never in a released build: the embedded table is checked by the test suite.
    pub fn builtin() -> &'static Icd10 {
        static BUILTIN: OnceLock<Icd10> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Icd10::parse(TABLE_TSV)
                .unwrap_or_else(|line| panic!("icd10cm.tsv is malformed at line {line}"))
        })
    }

    /// Parses a table in the `code, parent, kind, billable, description` TSV layout; on failure, returns
    /// the 1-based line at fault. The table borrows the text (the built-in one is embedded), so its
    /// 98,000 descriptions are not copied.
    pub fn parse(tsv: &'static str) -> Result<Icd10, usize> {
        // Sized once: growing a 98,000-row table doubles it (and touches fresh pages) many times.
        let rows = tsv.lines().count();
        let mut entries = Vec::with_capacity(rows);
        let mut parents = Vec::with_capacity(rows);
        let mut index = HashMap::with_capacity(rows);
        for (number, line) in tsv.lines().enumerate().skip(1) {
            let mut fields = line.split('\t');
            let (Some(code), Some(parent), Some(kind), Some(billable), Some(description)) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
            ) else {
                return Err(number + 1);
            };
            let kind = match kind {
                "chapter" => IcdKind::Chapter,
                "block" => IcdKind::Block,
                "category" => IcdKind::Category,
                "subcategory" => IcdKind::Subcategory,
                "code" => IcdKind::Code,
                _ => return Err(number + 1),
            };
            index.insert(code, entries.len());
            parents.push(parent);
            entries.push(IcdEntry {
                code,
                parent: None,
                kind,
                billable: billable == "1",
                description,
            });
        }
        for (number, (entry, parent)) in entries.iter_mut().zip(&parents).enumerate() {
            if parent.is_empty() {
                continue;
            }
            entry.parent = Some(*index.get(*parent).ok_or(number + 2)?);
        }
        Ok(Icd10 { entries, index })
    }

    /// The node for a code, if the table has it.
    pub fn get(&self, code: &str) -> Option<&IcdEntry> {
        self.index.get(code).map(|&index| &self.entries[index])
    }

    /// Number of nodes in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The chain from a code up to its chapter, the code itself first; empty for an unknown code.
    pub fn lineage(&self, code: &str) -> Vec<&IcdEntry> {
        let mut chain = Vec::new();
        let mut next = self.index.get(code).copied();
        while let Some(index) = next {
            let entry = &self.entries[index];
            chain.push(entry);
            next = entry.parent;
        }
        chain
    }

    /// The most specific node two codes share, if any.
    pub fn common_ancestor(&self, a: &str, b: &str) -> Option<&IcdEntry> {
        let lineage_b = self.lineage(b);
        self.lineage(a)
            .into_iter()
            .find(|entry| lineage_b.iter().any(|other| other.code == entry.code))
    }

    /// Every entry, in table order.
    pub fn entries(&self) -> &[IcdEntry] {
        &self.entries
    }

    /// The built-in inclusion terms and "includes" notes, in table order.
    ///
    /// # Panics
    /// Never in a released build: the embedded file is checked by the test suite.
    pub fn terms() -> &'static [IcdTerm] {
        static TERMS: OnceLock<Vec<IcdTerm>> = OnceLock::new();
        TERMS.get_or_init(|| {
            TERMS_TSV
                .lines()
                .enumerate()
                .skip(1)
                .map(|(number, line)| {
                    let mut fields = line.splitn(3, '\t');
                    let (Some(code), Some(kind), Some(term)) =
                        (fields.next(), fields.next(), fields.next())
                    else {
                        panic!("icd10cm-terms.tsv is malformed at line {}", number + 1)
                    };
                    let kind = match kind {
                        "inclusion" => TermKind::Inclusion,
                        "includes" => TermKind::Includes,
                        _ => panic!("icd10cm-terms.tsv: unknown kind at line {}", number + 1),
                    };
                    IcdTerm { code, kind, term }
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "code\tparent\tkind\tbillable\tdescription\n\
        9\t\tchapter\t0\tDiseases of the circulatory system\n\
        I20-I25\t9\tblock\t0\tIschemic heart diseases\n\
        I21\tI20-I25\tcategory\t0\tAcute myocardial infarction\n\
        I21.4\tI21\tcode\t1\tNon-ST elevation (NSTEMI) myocardial infarction\n\
        I20\tI20-I25\tcategory\t0\tAngina pectoris\n\
        I20.0\tI20\tcode\t1\tUnstable angina\n";

    #[test]
    fn hierarchy_finds_the_shared_block() {
        let table = Icd10::parse(SMALL).expect("valid");
        assert_eq!(table.lineage("I21.4").len(), 4);
        let shared = table.common_ancestor("I21.4", "I20.0").expect("shared");
        assert_eq!(shared.code, "I20-I25");
        assert_eq!(shared.kind, IcdKind::Block);
    }

    #[test]
    fn dangling_parent_reports_its_line() {
        assert_eq!(
            Icd10::parse("h\nI21\tI99\tcategory\t0\tx\n").expect_err("dangling"),
            2
        );
    }

    #[test]
    fn builtin_terms_belong_to_known_codes() {
        let table = Icd10::builtin();
        let terms = Icd10::terms();
        assert!(terms.len() > 10_000, "{} terms", terms.len());
        assert!(terms.iter().all(|term| table.get(term.code).is_some()));
        assert!(
            terms
                .iter()
                .any(|term| term.code == "E27.1" && term.term == "Addison's disease")
        );
    }

    #[test]
    fn builtin_table_knows_common_codes() {
        let table = Icd10::builtin();
        assert!(table.len() > 70_000, "{} rows", table.len());
        assert!(table.get("I21.4").is_some_and(|entry| entry.billable));
        assert_eq!(
            table.get("E10.10").map(|entry| entry.kind),
            Some(IcdKind::Code)
        );
    }
}
