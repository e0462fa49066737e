//! One final diagnosis per answer (DESIGN.md §3.7): reads a diagnosis answer into the conditions it
//! affirms, excludes or hedges, before anything is scored.
//!
//! An answer is cut into clauses (`;`, sentences, "but"), alternatives ("or", "vs", "/"), and items
//! (commas, "and", "&", "+"). Each piece gets a [`Stance`] from the words around it: "no …", "not …",
//! "… ruled out", "unlikely …" exclude it; "possible …", "?…", "cannot exclude …", "rule out …" hedge
//! it. A piece that names no condition ("right ear", "severe", "E. coli") qualifies the condition before
//! it. What is left is a [`Reading`]: one affirmed condition (with its cause, site or complication
//! joined by "due to", "with", "secondary to" …), several, or none. The judge credits only
//! [`Reading::One`]; the environment refuses [`Reading::Several`] and [`Reading::Hedged`] by default
//! (see [`crate::episode::MultipleDiagnoses`]), so no reward is earned by listing or by excluding.
//!
//! Whether a piece names a condition is the caller's question (the judge answers it from its
//! terminology), so this module is only the grammar.

/// How the answer holds a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stance {
    /// Stated as the diagnosis.
    Affirmed,
    /// Excluded: "no …", "… ruled out", "not …", "unlikely …".
    Negated,
    /// Held open: "possible …", "?…", "cannot exclude …", "rule out …", a differential.
    Hedged,
}

/// A condition the answer names, with the qualifiers that followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The condition's words as written, qualifiers joined back with ", ".
    pub text: String,
    /// How the answer holds it.
    pub stance: Stance,
}

/// What a diagnosis answer commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Exactly one affirmed condition (possibly with a linked cause or complication): the text to score.
    One(String),
    /// More than one affirmed condition: alternatives or a list.
    Several(Vec<String>),
    /// Nothing affirmed, but something held open ("possible PE", "DDx: …").
    Hedged(Vec<String>),
    /// Nothing affirmed or held open: only exclusions, or no condition at all ("unknown").
    NoneAffirmed,
}

impl Reading {
    /// The one condition to score, if the answer commits to exactly one.
    pub fn one(&self) -> Option<&str> {
        match self {
            Reading::One(text) => Some(text),
            _ => None,
        }
    }

    /// Whether the answer is something other than one final diagnosis that it could be restated as
    /// (several alternatives, or only hedged ones): the environment asks again rather than scoring it.
    pub fn is_indefinite(&self) -> bool {
        matches!(self, Reading::Several(_) | Reading::Hedged(_))
    }
}

/// Lead-ins that introduce a differential: everything after them is held open.
const DIFFERENTIAL_LEAD_INS: &[&str] = &[
    "differential diagnosis",
    "differential diagnoses",
    "differentials",
    "differential",
    "ddx",
    "possible diagnoses",
    "possibilities",
    "consider",
];

/// Lead-ins that introduce the diagnosis itself, dropped before reading.
const LEAD_INS: &[&str] = &[
    "most likely final diagnosis",
    "most likely diagnosis",
    "final diagnosis",
    "working diagnosis",
    "primary diagnosis",
    "likely diagnosis",
    "the diagnosis",
    "diagnosis",
    "impression",
    "assessment",
    "answer",
    "dx",
];

/// Words before a condition that exclude it.
const NEGATING_BEFORE: &[&str] = &[
    "no evidence of",
    "no signs of",
    "no sign of",
    "negative for",
    "absence of",
    "unlikely to be",
    "unlikely",
    "less likely",
    "not likely",
    "excluded",
    "exclude",
    "ruled out",
    "without",
    "never",
    "isn't",
    "is not",
    "not a",
    "not an",
    "not",
    "no",
];

/// Words after a condition that exclude it.
const NEGATING_AFTER: &[&str] = &[
    "has been ruled out",
    "was ruled out",
    "is ruled out",
    "ruled out",
    "has been excluded",
    "was excluded",
    "is excluded",
    "excluded",
    "is unlikely",
    "unlikely",
    "less likely",
    "not likely",
    "not present",
    "absent",
    "negative",
];

/// Words before a condition that hold it open.
const HEDGING_BEFORE: &[&str] = &[
    "cannot rule out",
    "can't rule out",
    "cannot exclude",
    "can't exclude",
    "could not exclude",
    "to rule out",
    "rule out",
    "r/o",
    "possibly",
    "possible",
    "questionable",
    "query",
    "maybe",
    "perhaps",
    "could be",
    "might be",
    "may be",
    "concern for",
    "worry about",
    "differential of",
    "?",
];

/// Words after a condition that hold it open.
const HEDGING_AFTER: &[&str] = &["not excluded", "to be excluded", "possible", "?"];

/// Words before a condition that affirm it: dropped.
const AFFIRMING_BEFORE: &[&str] = &[
    "consistent with",
    "in keeping with",
    "compatible with",
    "the patient has",
    "patient has",
    "this is",
    "it is",
    "it's",
    "i think",
    "i believe",
    "most likely",
    "most probably",
    "probably",
    "probable",
    "likely",
    "presumed",
    "presumptive",
    "definite",
    "confirmed",
    "a",
    "an",
];

/// Phrases after which an answer says no more about the diagnosis (a plan, a recommendation).
const PLAN_MARKERS: &[&str] = &[
    " recommend ",
    " suggest ",
    " plan ",
    " next step ",
    " start ",
    " needs ",
    " need ",
    " treat ",
    " refer ",
];

/// What a piece of an answer is, as the caller's terminology sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// It names a condition the terminology knows.
    Condition,
    /// Words the terminology does not know: a condition of its own when affirmed, a qualifier of
    /// the condition before it when hedged or excluded ("…, possibly gliptin-associated").
    Unknown,
    /// A site, side, severity, organism or other description of a condition.
    Qualifier,
}

/// Reads `answer` into the conditions it commits to; `classify` says what a piece of text is.
pub fn read(answer: &str, classify: &dyn Fn(&str) -> Piece) -> Reading {
    let conditions = conditions(answer, classify);
    let mut affirmed: Vec<String> = Vec::new();
    let mut hedged: Vec<String> = Vec::new();
    for condition in conditions {
        match condition.stance {
            Stance::Affirmed => affirmed.push(condition.text),
            Stance::Hedged => hedged.push(condition.text),
            Stance::Negated => {}
        }
    }
    match (affirmed.len(), hedged.is_empty()) {
        (0, true) => Reading::NoneAffirmed,
        (0, false) => Reading::Hedged(hedged),
        (1, true) => Reading::One(affirmed.remove(0)),
        // "Most likely A, but B possible" offers B as an alternative to A.
        _ => Reading::Several(affirmed.into_iter().chain(hedged).collect()),
    }
}

/// Every condition `answer` names, in order, each with its stance.
pub fn conditions(answer: &str, classify: &dyn Fn(&str) -> Piece) -> Vec<Condition> {
    let text = answer
        .replace(" w/ ", " with ")
        .replace(" w/o ", " without ")
        .replace(['\u{2019}', '\u{2018}'], "'")
        .replace(['\u{2013}', '\u{2014}'], " - ")
        .to_lowercase();
    // "acute scrotum ?torsion": a query mark before a word holds that word open, apart from
    // what precedes it.
    let text = text.replace(" ?", ", ?").replace(",, ?", ", ?");
    let (text, differential) = strip_lead_in(&text);
    let text = cut_plan(&text);
    // Every piece, with whether it names a condition by itself.
    let mut found: Vec<(Condition, bool, usize)> = Vec::new();
    for (clause_index, clause) in clauses(&text).into_iter().enumerate() {
        // A bracketed aside explains or qualifies what it follows ("BPPV (posterior canal)"): it is
        // read only when it offers an alternative or holds something open ("(or PE?)").
        let clause = match clause.strip_prefix(ASIDE) {
            Some(aside) if !offers_alternative(aside) => continue,
            Some(aside) => aside.to_string(),
            None => clause,
        };
        let (clause, clause_stance) = stance_of(&clause, Stance::Affirmed);
        let alternatives = split_words(&clause, &[" or ", " vs. ", " vs ", " versus "]);
        // A slash between two conditions offers alternatives ("PE/pneumonia"); one between words
        // that are not conditions joins them ("binge/purge type", "CLL/SLL" read as one).
        let alternatives: Vec<String> = alternatives
            .iter()
            .flat_map(|part| {
                let sides = split_slash(part);
                let names_one = |side: &String| {
                    items(side)
                        .iter()
                        .any(|item| classify(item) != Piece::Qualifier)
                };
                if sides.len() > 1 && sides.iter().all(names_one) {
                    sides
                } else {
                    vec![part.clone()]
                }
            })
            .collect();
        // Each side of an "or" is a condition of its own, whatever its words.
        let offered = alternatives.len() > 1;
        for alternative in alternatives {
            let (alternative, alternative_stance) = stance_of(&alternative, clause_stance);
            let mut last: Option<usize> = None;
            for item in items(&alternative) {
                let (item, stance) = stance_of(&item, alternative_stance);
                let item = drop_affirming(&item);
                if item.is_empty() {
                    continue;
                }
                // "…, with renal colic": a piece that opens with a link continues the condition.
                let continues = LINKS
                    .iter()
                    .chain(CONTINUES)
                    .any(|link| item.starts_with(link.trim_start()));
                if let (Some(index), true) = (last, continues) {
                    found[index].0.text.push(' ');
                    found[index].0.text.push_str(&item);
                    continue;
                }
                let named = (offered && last.is_none())
                    || match classify(&item) {
                        Piece::Condition => true,
                        Piece::Unknown => stance == Stance::Affirmed || last.is_none(),
                        Piece::Qualifier => false,
                    };
                match last {
                    // A site, side or severity: it belongs to the condition before it.
                    Some(index) if !named => {
                        found[index].0.text.push_str(", ");
                        found[index].0.text.push_str(&item);
                    }
                    _ => {
                        found.push((Condition { text: item, stance }, named, clause_index));
                        if named {
                            last = Some(found.len() - 1);
                        }
                    }
                }
            }
        }
    }
    // Affirmed pieces that name no condition ("left", "TSS", a misspelt name) join the condition that
    // follows them in the same clause; left over at the end of their clause, they are a condition of
    // their own (a statement the reader does not recognise is still a statement).
    let mut merged: Vec<Condition> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut pending_clause = 0;
    for (mut condition, named, clause) in found {
        if clause != pending_clause && !pending.is_empty() {
            merged.push(Condition {
                text: pending.join(", "),
                stance: Stance::Affirmed,
            });
            pending.clear();
        }
        pending_clause = clause;
        if condition.stance == Stance::Affirmed && !named {
            pending.push(condition.text);
            continue;
        }
        if !pending.is_empty() && condition.stance == Stance::Affirmed {
            pending.push(condition.text);
            condition.text = pending.join(" ");
            pending.clear();
        }
        merged.push(condition);
    }
    if !pending.is_empty() {
        merged.push(Condition {
            text: pending.join(", "),
            stance: Stance::Affirmed,
        });
    }
    // "unknown", "not sure": no condition at all.
    merged.retain(|condition| !is_no_answer(&condition.text));
    if differential {
        for condition in &mut merged {
            if condition.stance == Stance::Affirmed {
                condition.stance = Stance::Hedged;
            }
        }
    }
    merged
}

/// Marks a clause that was a bracketed aside.
const ASIDE: &str = "\u{1}";

/// Whether a bracketed aside offers an alternative or holds something open.
pub(crate) fn offers_alternative(aside: &str) -> bool {
    let padded = format!(" {aside} ");
    [
        " or ",
        " vs ",
        " vs. ",
        " versus ",
        "?",
        " possible ",
        " possibly ",
        " ddx ",
        " differential ",
    ]
    .iter()
    .any(|marker| padded.contains(marker))
}

/// Answers that decline to name anything.
fn is_no_answer(text: &str) -> bool {
    [
        "unknown",
        "not sure",
        "unsure",
        "no idea",
        "don't know",
        "i don't know",
        "undetermined",
        "unclear",
        "none",
        "n/a",
        "na",
        "pass",
    ]
    .contains(&text.trim())
}

/// Drops a lead-in ("Final diagnosis: …"); the flag says whether it introduced a differential.
pub(crate) fn strip_lead_in(text: &str) -> (String, bool) {
    let trimmed = text.trim();
    if let Some((before, after)) = trimmed.split_once(':') {
        let before = before
            .trim()
            .trim_start_matches(['*', '#', '-', ' '])
            .trim();
        if DIFFERENTIAL_LEAD_INS
            .iter()
            .any(|lead| before == *lead || before.ends_with(lead))
        {
            return (after.trim().to_string(), true);
        }
        if LEAD_INS
            .iter()
            .any(|lead| before == *lead || before.ends_with(lead))
        {
            return (after.trim().to_string(), false);
        }
    }
    for lead in DIFFERENTIAL_LEAD_INS {
        if let Some(rest) = trimmed.strip_prefix(lead) {
            if rest.starts_with(' ') {
                return (rest.trim().to_string(), true);
            }
        }
    }
    (trimmed.to_string(), false)
}

/// The answer up to the first plan or recommendation.
pub(crate) fn cut_plan(text: &str) -> String {
    let padded = format!(" {text} ");
    let cut = PLAN_MARKERS
        .iter()
        .filter_map(|marker| padded.find(marker))
        .filter(|&at| at > 1)
        .min();
    match cut {
        Some(at) => padded[..at].trim().to_string(),
        None => text.trim().to_string(),
    }
}

/// Whether `initial` and `species` ("e", "coli", lower case as the reader has them) abbreviate an
/// organism the judge's lay table knows ("e coli", "s aureus").
fn is_abbreviated_organism(initial: &str, species: &str) -> bool {
    static ORGANISMS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    let organisms = ORGANISMS.get_or_init(|| {
        csv::Reader::from_reader(super::LAY_TERMS_CSV.as_bytes())
            .records()
            .filter_map(Result::ok)
            .filter(|row| row.get(2) == Some("organism"))
            .filter_map(|row| row.get(0).map(str::to_string))
            .filter(|term| {
                term.split_once(' ')
                    .is_some_and(|(initial, _)| initial.len() == 1)
            })
            .collect()
    });
    organisms.contains(&format!("{initial} {species}"))
}

/// Words written with a full stop that does not end a sentence ("St. Louis", "inf. STEMI",
/// "bilat. PE").
pub(crate) const DOTTED_ABBREVIATIONS: &[&str] = &[
    "st", "vs", "sp", "spp", "var", "ssp", "dr", "inf", "sup", "ant", "post", "lat", "bilat",
    "approx", "assoc", "incl", "sec", "prob", "poss",
];

/// Clauses: split at `;`, new lines, " but ", and full stops that end a sentence (not "E. coli" or
/// "3.5"). A bracketed aside is taken out of the text around it ("sickle cell disease (HbSS) with
/// acute chest syndrome" reads on as one clause) and becomes a clause of its own, marked [`ASIDE`].
fn clauses(text: &str) -> Vec<String> {
    let mut asides: Vec<String> = Vec::new();
    let mut main = String::with_capacity(text.len());
    // A bracket inside an aside ("(or CMV disease (donor-positive, recipient-negative))")
    // qualifies the aside: it is left out of it, and read as an aside of its own only when it
    // offers an alternative.
    let mut nested = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' => {
                if depth == 0 {
                    asides.push(String::new());
                }
                depth += 1;
                main.push(' ');
            }
            ')' | ']' if depth > 0 => {
                depth -= 1;
                if depth == 1 {
                    let inner = std::mem::take(&mut nested);
                    if offers_alternative(&inner) {
                        asides.push(inner);
                    }
                }
            }
            _ if depth > 1 => nested.push(c),
            _ if depth > 0 => {
                if let Some(aside) = asides.last_mut() {
                    aside.push(c);
                }
            }
            _ => main.push(c),
        }
    }
    let mut clauses = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = main.chars().collect();
    for (at, &c) in chars.iter().enumerate() {
        match c {
            ';' | '\n' => {
                clauses.push(std::mem::take(&mut current));
                continue;
            }
            '.' => {
                let word_before: String = current
                    .trim_end()
                    .chars()
                    .rev()
                    .take_while(|c| c.is_alphanumeric())
                    .collect();
                let next = chars.get(at + 1).copied();
                // "E. coli", "S. aureus", "St. Louis", "3.5": not the end of a sentence. A letter
                // after a word that is not a function word is a type ("haemophilia A. Cushing
                // syndrome", "hepatitis B."), and its full stop ends the sentence; a genus initial
                // opens a clause, follows one ("due to S. aureus") or abbreviates an organism the
                // lay table knows ("toxin-producing E. coli"). The text is in lower case here.
                let word: String = word_before.chars().rev().collect();
                let type_letter =
                    word.chars().count() == 1 && word.chars().all(char::is_alphabetic) && {
                        let before = current.trim_end();
                        let rest = before[..before.len() - word.len()].trim_end();
                        let previous = rest
                            .rsplit(|c: char| !c.is_alphanumeric())
                            .next()
                            .unwrap_or("");
                        let species: String = chars[at + 1..]
                            .iter()
                            .skip_while(|c| c.is_whitespace())
                            .take_while(|c| c.is_alphanumeric())
                            .collect();
                        previous.chars().count() > 1
                            && !super::STOPWORDS.contains(&previous)
                            && !is_abbreviated_organism(&word, &species)
                    };
                let ends_sentence = (word.chars().count() > 1 || type_letter)
                    && !DOTTED_ABBREVIATIONS.contains(&word.as_str())
                    && !next.is_some_and(|n| n.is_alphanumeric())
                    && !word.chars().all(|c| c.is_ascii_digit());
                if ends_sentence {
                    clauses.push(std::mem::take(&mut current));
                    continue;
                }
            }
            _ => {}
        }
        current.push(c);
    }
    clauses.push(current);
    clauses
        .into_iter()
        .flat_map(|clause| split_words(&clause, &[" but ", " however ", " though "]))
        .chain(
            asides
                .into_iter()
                .map(|aside| format!("{ASIDE}{}", aside.trim())),
        )
        .filter(|clause| clause.chars().any(char::is_alphanumeric))
        .collect()
}

/// Splits at any of `separators` (each padded with spaces where it is a word).
fn split_words(text: &str, separators: &[&str]) -> Vec<String> {
    let mut parts = vec![format!(" {} ", text.trim())];
    for separator in separators {
        parts = parts
            .iter()
            .flat_map(|part| part.split(separator).map(|p| format!(" {} ", p.trim())))
            .collect();
    }
    parts
        .into_iter()
        .map(|part| part.trim().to_string())
        .filter(|part| !part.is_empty())
        .collect()
}

/// Splits alternatives written with a slash ("PE/pneumonia"), but not "and/or" (an item separator) or
/// a slash inside one short token ("r/o", "b/l").
fn split_slash(text: &str) -> Vec<String> {
    let text = text.replace(" and/or ", " or ");
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (at, &c) in chars.iter().enumerate() {
        if c == '/' {
            let before: String = current
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            let after: String = chars[at + 1..]
                .iter()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            let (before, after) = (before.chars().count(), after.chars().count());
            let token = before > 0 && after > 0 && (before <= 1 || after <= 1);
            if !token {
                parts.push(std::mem::take(&mut current));
                continue;
            }
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|part| part.trim().to_string())
        .filter(|part| !part.is_empty())
        .collect()
}

/// `text` with the markers of a numbered list ("1. … 2) …") turned into item separators.
fn numbered_items_separated(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let words: Vec<&str> = text.split(' ').collect();
    for (index, word) in words.iter().enumerate() {
        let marker = word
            .strip_suffix(['.', ')', ':'])
            .is_some_and(|number| !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()));
        if marker {
            if index > 0 {
                out.push_str(" , ");
            }
            continue;
        }
        if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Words that join a condition to its cause or complication ("septic shock *due to* …"): the judge
/// splits an answer at them to count and score its conditions, and a piece opening with one (or
/// with "without" or "in") continues the condition before it ("ureteric calculus, left, with renal
/// colic").
pub const LINKS: &[&str] = &[
    " due to ",
    " secondary to ",
    " caused by ",
    " complicated by ",
    " presenting as ",
    " precipitated by ",
    " triggered by ",
    " complicating ",
    " leading to ",
    " resulting in ",
    " associated with ",
    " in the setting of ",
    " with ",
    " from ",
    " causing ",
    " after ",
    " following ",
];

/// Words that continue a condition without linking another one.
const CONTINUES: &[&str] = &[" without ", " in "];

/// Items of a list: commas, " and ", " & ", " + ", " plus ", " as well as ", and numbered items.
/// An "and" after a link joins what the link brings ("TCA overdose complicated by seizures and QRS
/// widening" is one overdose with two complications); the judge scores such an answer without the
/// complications after the first, so a chain gains nothing over one condition and one complication.
fn items(text: &str) -> Vec<String> {
    let spaced = numbered_items_separated(&text.replace(',', " , "));
    let spaced = spaced
        .split(" , ")
        .map(|segment| {
            let linked_at = LINKS
                .iter()
                .filter_map(|link| segment.find(link).map(|at| at + link.len()))
                .min();
            match linked_at {
                Some(at) => format!(
                    "{}{}",
                    &segment[..at],
                    segment[at..].replace(" and ", JOINED_AND)
                ),
                None => segment.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" , ");
    let items = split_words(
        &spaced,
        &[
            " , ",
            " and ",
            " & ",
            " + ",
            " plus ",
            " as well as ",
            " also ",
        ],
    );
    items
        .into_iter()
        .map(|item| item.replace(JOINED_AND.trim(), "and"))
        .collect()
}

/// Stands for an "and" inside what a link brings while an answer is cut into items.
const JOINED_AND: &str = " \u{2} ";

/// Whether `text` starts with `phrase` as whole words; returns the rest.
fn strip_word_prefix<'a>(text: &'a str, phrase: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(phrase)?;
    let boundary = phrase.ends_with(|c: char| !c.is_alphanumeric())
        || rest.is_empty()
        || rest.starts_with(|c: char| !c.is_alphanumeric());
    boundary.then_some(rest)
}

/// Whether `text` ends with `phrase` as whole words; returns what is before it.
fn strip_word_suffix<'a>(text: &'a str, phrase: &str) -> Option<&'a str> {
    let rest = text.strip_suffix(phrase)?;
    let boundary = phrase.starts_with(|c: char| !c.is_alphanumeric())
        || rest.is_empty()
        || rest.ends_with(|c: char| !c.is_alphanumeric());
    boundary.then_some(rest)
}

/// Cleans the ends of a piece of text: spaces, dashes, colons and bullets.
fn trim_piece(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || matches!(c, '-' | ':' | '*' | '•' | '"'))
}

/// The piece without its stance words, and its stance (`inherited` unless a word here changes it).
fn stance_of(text: &str, inherited: Stance) -> (String, Stance) {
    let mut text = trim_piece(text).to_string();
    let mut stance = inherited;
    loop {
        let before = text.clone();
        // A trailing question mark holds the whole piece open.
        if let Some(rest) = text.strip_suffix('?') {
            text = trim_piece(rest).to_string();
            stance = Stance::Hedged;
        }
        for phrase in NEGATING_AFTER {
            if let Some(rest) = strip_word_suffix(&text, phrase) {
                text = trim_piece(rest).to_string();
                stance = Stance::Negated;
                break;
            }
        }
        for phrase in HEDGING_AFTER {
            if let Some(rest) = strip_word_suffix(&text, phrase) {
                text = trim_piece(rest).to_string();
                if stance != Stance::Negated {
                    stance = Stance::Hedged;
                }
                break;
            }
        }
        for phrase in HEDGING_BEFORE {
            if let Some(rest) = strip_word_prefix(&text, phrase) {
                text = trim_piece(rest).to_string();
                stance = Stance::Hedged;
                break;
            }
        }
        for phrase in NEGATING_BEFORE {
            if let Some(rest) = strip_word_prefix(&text, phrase) {
                text = trim_piece(rest).to_string();
                stance = Stance::Negated;
                break;
            }
        }
        if text == before {
            break;
        }
    }
    (text, stance)
}

/// The piece without words that only affirm it ("most likely", "consistent with").
fn drop_affirming(text: &str) -> String {
    let mut text = trim_piece(text).to_string();
    loop {
        let before = text.clone();
        for phrase in AFFIRMING_BEFORE {
            if let Some(rest) = strip_word_prefix(&text, phrase) {
                text = trim_piece(rest).to_string();
                break;
            }
        }
        if text == before {
            return text;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_letter_ends_a_sentence_and_a_genus_initial_does_not() {
        let judge = crate::judge::RuleJudge::shared();
        for list in [
            "Acquired haemophilia A (inhibitor to factor VIII). Cushing syndrome.",
            "ACQUIRED HAEMOPHILIA A. CUSHING SYNDROME",
            "Chronic hepatitis B. Hepatocellular carcinoma",
        ] {
            assert!(
                matches!(judge.read_answer(list), Reading::Several(_)),
                "{list}: {:?}",
                judge.read_answer(list)
            );
        }
        for one in [
            "E. coli pyelonephritis",
            "Pyelonephritis due to E. coli.",
            "Septic arthritis with S. aureus",
            "Shiga toxin-producing E. coli haemolytic uraemic syndrome",
            "SHIGA TOXIN-PRODUCING E. COLI HAEMOLYTIC URAEMIC SYNDROME",
            "Stanford type A aortic dissection.",
            "Acquired haemophilia A.",
        ] {
            assert!(
                matches!(judge.read_answer(one), Reading::One(_)),
                "{one}: {:?}",
                judge.read_answer(one)
            );
        }
    }

    /// A stand-in for the judge's terminology: anything with a disease word names a condition.
    fn names(text: &str) -> bool {
        [
            "embolism",
            "pneumonia",
            "pneumothorax",
            "mi",
            "pericarditis",
            "dissection",
            "otitis",
            "pe",
            "dka",
            "hypokalaemia",
            "shock",
            "pyelonephritis",
            "leukaemia",
            "mononucleosis",
            "fever",
        ]
        .iter()
        .any(|word| {
            text.split(|c: char| !c.is_alphanumeric())
                .any(|w| w == *word)
        })
    }

    fn reading(text: &str) -> Reading {
        read(text, &|piece| {
            if names(piece) {
                Piece::Condition
            } else if piece.split_whitespace().count() > 2 {
                Piece::Unknown
            } else {
                Piece::Qualifier
            }
        })
    }

    #[test]
    fn a_comma_list_is_several() {
        let reading =
            reading("pneumonia, pulmonary embolism, pneumothorax, MI, pericarditis, dissection");
        assert!(
            matches!(reading, Reading::Several(ref list) if list.len() == 6),
            "{reading:?}"
        );
    }

    #[test]
    fn or_vs_and_slash_make_alternatives() {
        for text in [
            "PE or pneumonia",
            "PE vs pneumonia",
            "PE versus pneumonia",
            "PE/pneumonia",
            "PE and pneumonia",
            "DDx: PE",
        ] {
            assert!(reading(text).is_indefinite(), "{text}: {:?}", reading(text));
        }
    }

    #[test]
    fn a_site_after_a_comma_qualifies_the_condition() {
        assert_eq!(
            reading("Acute otitis media, right ear"),
            Reading::One("acute otitis media, right ear".into())
        );
    }

    #[test]
    fn a_cause_or_complication_is_one_answer() {
        assert_eq!(
            reading("Septic shock due to E. coli pyelonephritis"),
            Reading::One("septic shock due to e. coli pyelonephritis".into())
        );
        assert_eq!(
            reading("DKA with hypokalaemia"),
            Reading::One("dka with hypokalaemia".into())
        );
    }

    #[test]
    fn negations_are_not_affirmed() {
        for text in [
            "No pulmonary embolism",
            "Pulmonary embolism ruled out",
            "not PE",
            "PE unlikely",
            "unlikely to be PE",
            "no evidence of pulmonary embolism",
        ] {
            assert_eq!(reading(text), Reading::NoneAffirmed, "{text}");
        }
    }

    #[test]
    fn a_negation_beside_a_diagnosis_leaves_the_diagnosis() {
        assert_eq!(
            reading("No pulmonary embolism; community-acquired pneumonia"),
            Reading::One("community-acquired pneumonia".into())
        );
        assert_eq!(
            reading("Pneumonia, not PE"),
            Reading::One("pneumonia".into())
        );
    }

    #[test]
    fn hedges_are_held_open() {
        for text in [
            "possible PE",
            "?PE",
            "PE?",
            "cannot exclude PE",
            "query pneumonia",
        ] {
            assert!(
                matches!(reading(text), Reading::Hedged(_)),
                "{text}: {:?}",
                reading(text)
            );
        }
    }

    #[test]
    fn lead_ins_and_affirming_words_are_dropped() {
        assert_eq!(
            reading("Most likely diagnosis: pulmonary embolism"),
            Reading::One("pulmonary embolism".into())
        );
        assert_eq!(
            reading("Final diagnosis: likely PE. Recommend CTPA."),
            Reading::One("pe".into())
        );
    }

    #[test]
    fn a_bracketed_aside_is_read_only_when_it_offers_an_alternative() {
        assert_eq!(
            reading("Infectious mononucleosis (glandular fever)"),
            Reading::One("infectious mononucleosis".into())
        );
        assert!(reading("Pneumonia (or PE?)").is_indefinite());
        assert_eq!(
            reading("DKA (severe) with hypokalaemia"),
            Reading::One("dka with hypokalaemia".into())
        );
    }

    #[test]
    fn a_committed_answer_with_a_hedged_alternative_is_several() {
        assert!(matches!(
            reading("Most likely pneumonia, but PE possible"),
            Reading::Several(ref list) if list.len() == 2
        ));
    }

    #[test]
    fn each_side_of_an_or_is_a_condition() {
        assert!(matches!(
            reading("Pneumonia vs metastatic cord compression"),
            Reading::Several(ref list) if list.len() == 2
        ));
    }

    #[test]
    fn an_unrecognised_name_is_still_the_answer() {
        assert_eq!(reading("TSS"), Reading::One("tss".into()));
    }

    #[test]
    fn no_condition_is_none_affirmed() {
        assert_eq!(reading("unknown"), Reading::NoneAffirmed);
        assert_eq!(reading(""), Reading::NoneAffirmed);
    }
}
