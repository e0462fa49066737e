//! Which words name a condition on their own: the judge's test for "this piece of an answer is a
//! diagnosis, not a site, side, severity or organism" (used to read lists, and to tell a more specific
//! answer from one that adds a second condition).
//!
//! A word names a condition when it is one of [`DISEASE_NOUNS`] (infarction, fracture, shock …) or ends
//! in a suffix of disease ([`DISEASE_ENDINGS`]: -itis, -osis, -oma, -aemia …), except a few anatomical
//! and everyday words with the same endings ([`NOT_DISEASES`]). Words are compared in the judge's
//! normalised, American spelling.

/// Nouns that name a disease, injury, finding or state on their own.
const DISEASE_NOUNS: &[&str] = &[
    "abortion",
    "abruption",
    "abscess",
    "abuse",
    "ache",
    "acne",
    "addiction",
    "aids",
    "allergy",
    "amenorrhea",
    "anaphylaxis",
    "aneurysm",
    "angina",
    "angioedema",
    "anxiety",
    "apnea",
    "arrest",
    "arrhythmia",
    "ascites",
    "asthma",
    "attack",
    "avulsion",
    "bite",
    "bleed",
    "blindness",
    "block",
    "bradycardia",
    "burn",
    "cancer",
    "carcinoma",
    "cataract",
    "cholera",
    "claudication",
    "clot",
    "colic",
    "coma",
    "concussion",
    "constipation",
    "contusion",
    "cough",
    "covid",
    "crisis",
    "croup",
    "cyst",
    "deafness",
    "deficiency",
    "dehydration",
    "delirium",
    "dengue",
    "dependence",
    "depression",
    "detachment",
    "diabetes",
    "diarrhea",
    "disease",
    "dislocation",
    "disorder",
    "dissection",
    "drowning",
    "eclampsia",
    "eczema",
    "edema",
    "effusion",
    "embolism",
    "embolus",
    "emphysema",
    "envenomation",
    "epilepsy",
    "failure",
    "fever",
    "fibrillation",
    "fibroid",
    "fissure",
    "fistula",
    "flutter",
    "fracture",
    "gangrene",
    "glaucoma",
    "goiter",
    "gout",
    "headache",
    "heatstroke",
    "hemorrhage",
    "hemorrhoids",
    "hernia",
    "herpes",
    "hives",
    "hypertension",
    "hypotension",
    "ileus",
    "incontinence",
    "infarct",
    "infarction",
    "infection",
    "infertility",
    "influenza",
    "injury",
    "insufficiency",
    "intolerance",
    "intoxication",
    "intussusception",
    "jaundice",
    "laceration",
    "lesion",
    "lupus",
    "malaria",
    "malignancy",
    "malnutrition",
    "mass",
    "measles",
    "metastases",
    "metastasis",
    "migraine",
    "miscarriage",
    "mumps",
    "neoplasm",
    "obesity",
    "obstruction",
    "occlusion",
    "overdose",
    "pain",
    "palsy",
    "paralysis",
    "perforation",
    "plague",
    "pneumothorax",
    "poisoning",
    "polyp",
    "pregnancy",
    "prolapse",
    "psoriasis",
    "purpura",
    "rabies",
    "rash",
    "reaction",
    "reflux",
    "retention",
    "rupture",
    "scabies",
    "sclerosis",
    "seizure",
    "sepsis",
    "shingles",
    "shock",
    "sprain",
    "stenosis",
    "sting",
    "stone",
    "storm",
    "stroke",
    "syncope",
    "syndrome",
    "tachycardia",
    "tamponade",
    "tear",
    "tetanus",
    "thrombosis",
    "thrombus",
    "torsion",
    "toxicity",
    "trauma",
    "tumor",
    "ulcer",
    "urticaria",
    "varices",
    "vasculitis",
    "vertigo",
    "volvulus",
    "vomiting",
    "wart",
    "withdrawal",
    "wound",
];

/// Endings of disease words (inflammation, condition, tumour, blood state, disease of, pain …).
const DISEASE_ENDINGS: &[&str] = &[
    "itis", "itides", "osis", "oses", "iasis", "oma", "omas", "emia", "pathy", "algia", "ism",
    "plegia", "paresis", "esis", "rrhage", "rrhea", "cele", "ectasis", "ectasia", "trophy",
    "penia", "cytosis", "uria", "lysis", "plasia", "philia", "ia", "pnea", "spasm",
];

/// Words with a disease ending that are not diseases.
const NOT_DISEASES: &[&str] = &[
    "analysis",
    "anesthesia",
    "bacteria",
    "criteria",
    "diagnosis",
    "dialysis",
    "india",
    "labia",
    "mechanism",
    "media",
    "organism",
    "pia",
    "prognosis",
    "tibia",
    "via",
    "basis",
    "axis",
];

/// Whether `word` (normalised, lower case; a trailing plural "s" is tolerated) names a condition.
///
/// ```
/// use dxsim::judge::vocabulary::is_disease_word;
/// assert!(is_disease_word("pneumonia"));
/// assert!(is_disease_word("pericarditis"));
/// assert!(is_disease_word("fractures"));
/// assert!(!is_disease_word("tibia"));
/// assert!(!is_disease_word("right"));
/// ```
pub fn is_disease_word(word: &str) -> bool {
    let singular = word.strip_suffix('s').filter(|rest| rest.len() >= 3);
    let check = |word: &str| {
        !NOT_DISEASES.contains(&word)
            && (DISEASE_NOUNS.binary_search(&word).is_ok()
                || (word.len() >= 5 && DISEASE_ENDINGS.iter().any(|end| word.ends_with(end))))
    };
    check(word) || singular.is_some_and(check)
}

/// Qualifiers that change management when left out or changed: organ, cause, organism class, type,
/// behaviour (ruptured, perforated, malignant), cell line.
const DEFINING_WORDS: &[&str] = &[
    "adrenal",
    "allergic",
    "anal",
    "aortic",
    "atonic",
    "atony",
    "autoimmune",
    "bacterial",
    "benign",
    "biliary",
    "bladder",
    "cardiac",
    "cardiogenic",
    "carotid",
    "cerebral",
    "closure",
    "colonic",
    "congenital",
    "coronary",
    "cutaneous",
    "drug",
    "duodenal",
    "esophageal",
    "fungal",
    "gangrenous",
    "gastric",
    "hemorrhagic",
    "hepatic",
    "hereditary",
    "hypovolemic",
    "idiopathic",
    "induced",
    "infected",
    "infective",
    "interstitial",
    "intestinal",
    "ischemic",
    "lymphoblastic",
    "lymphocytic",
    "lymphoid",
    "malignant",
    "metastatic",
    "monocytic",
    "myeloid",
    "necrotizing",
    "nephrogenic",
    "neurogenic",
    "obstructed",
    "obstructive",
    "ocular",
    "open",
    "orthostatic",
    "ovarian",
    "pancreatic",
    "parasitic",
    "perforated",
    "pituitary",
    "plasmacytic",
    "promyelocytic",
    "prostatic",
    "psychotic",
    "pulmonary",
    "rectal",
    "reflex",
    "renal",
    "restrictive",
    "retinal",
    "ruptured",
    "septic",
    "spinal",
    "splenic",
    "squamous",
    "strangulated",
    "tension",
    "testicular",
    "thrombotic",
    "thyroid",
    "toxic",
    "traumatic",
    "tuberculous",
    "uterine",
    "vaginal",
    "vasovagal",
    "viral",
];

/// Endings of organism words ("pneumococcal", "enterobacter", "candidal").
const ORGANISM_ENDINGS: &[&str] = &["coccal", "cocci", "coccus", "bacter", "bacillus", "monas"];

/// Endings of drug and drug-class words ("ACE inhibitor", "lisinopril", "amoxicillin"): a drug
/// qualifies a condition (its cause), it is not one.
const DRUG_ENDINGS: &[&str] = &[
    "inhibitor",
    "inhibitors",
    "blocker",
    "blockers",
    "antagonist",
    "agonist",
    "mab",
    "pril",
    "sartan",
    "olol",
    "statin",
    "azole",
    "cillin",
    "mycin",
    "floxacin",
    "prazole",
    "dipine",
    "tidine",
    "pam",
    "lam",
    "zepam",
    "triptyline",
    "oxetine",
    "aline",
    "sone",
    "solone",
    "urea",
];

/// Whether `word` names a drug or drug class by its ending.
///
/// ```
/// use dxsim::judge::vocabulary::is_drug_word;
/// assert!(is_drug_word("lisinopril"));
/// assert!(is_drug_word("inhibitor"));
/// assert!(!is_drug_word("pneumonia"));
/// ```
pub fn is_drug_word(word: &str) -> bool {
    word.len() >= 5 && DRUG_ENDINGS.iter().any(|end| word.ends_with(end))
}

/// Whether `word` is one of the listed qualifiers that make a diagnosis another type ("psychotic",
/// "ruptured", "malignant"), without the disease nouns and organisms [`is_defining_word`] adds.
///
/// ```
/// use dxsim::judge::vocabulary::is_type_defining_word;
/// assert!(is_type_defining_word("psychotic"));
/// assert!(!is_type_defining_word("peritonitis"));
/// ```
pub fn is_type_defining_word(word: &str) -> bool {
    DEFINING_WORDS.binary_search(&word).is_ok()
}

/// Whether leaving `word` out of a diagnosis loses what defines it (rubric: a major error, 3), rather
/// than a minor qualifier such as side, site within an organ, acuity or severity (4).
///
/// ```
/// use dxsim::judge::vocabulary::is_defining_word;
/// assert!(is_defining_word("ruptured"));
/// assert!(is_defining_word("pulmonary"));
/// assert!(is_defining_word("pneumococcal"));
/// assert!(is_defining_word("malignancy"));
/// assert!(!is_defining_word("ileum"));
/// assert!(!is_defining_word("left"));
/// ```
pub fn is_defining_word(word: &str) -> bool {
    is_disease_word(word)
        || DEFINING_WORDS.binary_search(&word).is_ok()
        || ORGANISM_ENDINGS.iter().any(|end| word.ends_with(end))
        || (word.starts_with("type") && word.len() > 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted_for_binary_search() {
        assert!(DISEASE_NOUNS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(DEFINING_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn sites_sides_and_severities_are_not_diseases() {
        for word in [
            "left", "ear", "lobe", "severe", "acute", "coli", "media", "lower",
        ] {
            assert!(!is_disease_word(word), "{word}");
        }
    }
}
