//! Text normalisation shared by request resolution, validation and the judge.
//!
//! Clinicians type the same thing many ways: "Haemoglobin", "hemoglobin", "HGB"; "X-ray chest", "chest
//! x ray". [`normalize`] folds case, punctuation and British/American spelling so that lookups compare
//! meaning rather than typography; [`tokens`] splits the result into words.

use unicode_normalization::UnicodeNormalization;

/// British spellings (as substrings of a lowercase word) and their American forms.
const SPELLING: &[(&str, &str)] = &[
    ("haem", "hem"),
    ("anaem", "anem"),
    ("aemia", "emia"),
    ("oedem", "edem"),
    ("oesoph", "esoph"),
    ("oestr", "estr"),
    ("diarrhoea", "diarrhea"),
    ("gonorrhoea", "gonorrhea"),
    ("coeliac", "celiac"),
    ("foet", "fet"),
    ("paed", "ped"),
    ("orthopaed", "orthoped"),
    ("leukaem", "leukem"),
    ("leucocyt", "leukocyt"),
    ("leucopen", "leukopen"),
    ("caecum", "cecum"),
    ("ischaem", "ischem"),
    ("dyspnoea", "dyspnea"),
    ("apnoea", "apnea"),
    ("tumour", "tumor"),
    ("colour", "color"),
    ("sulph", "sulf"),
    ("glycaem", "glycem"),
    ("kalaem", "kalem"),
    ("natraem", "natrem"),
    ("calcaem", "calcem"),
    ("uraem", "urem"),
    ("septicaem", "septicem"),
    ("bacteraem", "bacterem"),
    ("faec", "fec"),
    ("gynaec", "gynec"),
    ("aetiolog", "etiolog"),
    ("anaesthe", "anesthe"),
    ("haemorrh", "hemorrh"),
    ("centre", "center"),
    ("litre", "liter"),
    ("fibre", "fiber"),
    ("oesophag", "esophag"),
];

/// Lowercases `text`, turns punctuation into spaces (keeping `+` and `&` as words), joins "x ray" and
/// "x-ray" into "xray", maps British spellings to American ones and collapses white space.
///
/// ```
/// use dxsim_gatekeeper::text::normalize;
/// assert_eq!(normalize("Haemoglobin (Hb)"), "hemoglobin hb");
/// assert_eq!(normalize("Chest X-Ray, PA"), "chest xray pa");
/// assert_eq!(normalize("Guillain-Barré"), "guillain barre");
/// ```
pub fn normalize(text: &str) -> String {
    // Accents folded ("Guillain-Barré" → "guillain barre"): decomposed, combining marks dropped.
    let folded: std::borrow::Cow<'_, str> = if text.is_ascii() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(
            text.nfd()
                .filter(|ch| !unicode_normalization::char::is_combining_mark(*ch))
                .collect(),
        )
    };
    let mut spaced = String::with_capacity(folded.len());
    for ch in folded.chars() {
        if ch.is_alphanumeric() {
            spaced.extend(ch.to_lowercase());
        } else if ch == '+' || ch == '&' {
            spaced.push(' ');
            spaced.push(ch);
            spaced.push(' ');
        } else if ch == '.' || ch == '\'' || ch == '’' {
            // "e.g." and "Crohn's" keep their letters together.
            continue;
        } else {
            spaced.push(' ');
        }
    }
    let mut out = String::with_capacity(spaced.len());
    let mut words = spaced.split_whitespace().peekable();
    while let Some(word) = words.next() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word == "x" && words.peek() == Some(&"ray") {
            words.next();
            out.push_str("xray");
            continue;
        }
        out.push_str(&americanize(word));
    }
    out
}

/// Letter groups at least one of which every British spelling in [`SPELLING`] contains: a word with
/// none of them needs no lookup (most words), which keeps normalisation of large tables cheap.
const BRITISH_MARKERS: &[&str] = &["ae", "oe", "our", "sulph", "leuc", "tre", "bre"];

fn americanize(word: &str) -> String {
    if !BRITISH_MARKERS.iter().any(|marker| word.contains(marker)) {
        return word.to_string();
    }
    let mut word = word.to_string();
    for (british, american) in SPELLING {
        if word.contains(british) {
            word = word.replace(british, american);
        }
    }
    word
}

/// The words of an already-normalised string.
pub fn tokens(normalized: &str) -> impl Iterator<Item = &str> {
    normalized.split(' ').filter(|word| !word.is_empty())
}

/// Whether `needle` occurs in `haystack` as whole words (both already normalised).
///
/// ```
/// use dxsim_gatekeeper::text::contains_phrase;
/// assert!(contains_phrase("acute mi with shock", "mi"));
/// assert!(!contains_phrase("microcytic anemia", "mi"));
/// ```
pub fn contains_phrase(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    haystack.match_indices(needle).any(|(start, _)| {
        let end = start + needle.len();
        let before_ok = start == 0 || haystack.as_bytes()[start - 1] == b' ';
        let after_ok = end == haystack.len() || haystack.as_bytes()[end] == b' ';
        before_ok && after_ok
    })
}

/// A stable 64-bit FNV-1a hash, used to derive per-item seeds that never change between releases or
/// platforms (the standard library's hasher makes no such promise).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_british_spelling_carries_a_marker() {
        for (british, _) in SPELLING {
            assert!(
                BRITISH_MARKERS
                    .iter()
                    .any(|marker| british.contains(marker)),
                "`{british}` would be skipped by the marker check"
            );
        }
    }

    #[test]
    fn british_and_american_spellings_meet() {
        assert_eq!(normalize("Oesophagitis"), normalize("esophagitis"));
        assert_eq!(normalize("anaemia"), "anemia");
        assert_eq!(normalize("Hypokalaemia"), "hypokalemia");
        assert_eq!(normalize("faecal calprotectin"), "fecal calprotectin");
    }

    #[test]
    fn punctuation_becomes_space_and_symbols_stay_words() {
        assert_eq!(normalize("U&E"), "u & e");
        assert_eq!(normalize("PT/INR"), "pt inr");
        assert_eq!(normalize("Crohn's disease"), "crohns disease");
        assert_eq!(normalize("  x  ray   chest "), "xray chest");
    }

    #[test]
    fn phrase_match_respects_word_boundaries() {
        assert!(contains_phrase("pulmonary embolism", "pulmonary embolism"));
        assert!(contains_phrase("a pe is likely", "pe"));
        assert!(!contains_phrase("peptic ulcer", "pe"));
        assert!(!contains_phrase("anything", ""));
    }

    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
