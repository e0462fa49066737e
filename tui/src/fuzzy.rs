//! Ranking names against what the student types, for the pickers: every typed word must start a
//! word of the name or appear in it, best when the name starts with the query; failing that, the
//! letters in order with as few gaps as possible ("trpn" finds "troponin").

/// The best score a letters-in-order match can get; word matches score above it.
const SUBSEQUENCE_MAX: i64 = 50;

/// How well `text` matches `query`, higher is better; `None` if it does not match at all.
pub fn score(query: &str, text: &str) -> Option<i64> {
    let query = query.trim().to_lowercase();
    let text = text.to_lowercase();
    if query.is_empty() {
        return Some(0);
    }
    if text == query {
        return Some(1_000_000);
    }
    let length = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let mut total = 0i64;
    let mut every_word = true;
    for part in query.split_whitespace() {
        if words.iter().any(|word| word.starts_with(part)) {
            total += 100;
        } else if text.contains(part) {
            total += 50;
        } else {
            every_word = false;
            break;
        }
    }
    if every_word {
        if text.starts_with(&query) {
            total += 500;
        }
        return Some(total * 100 - length);
    }
    let compact: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    subsequence_gaps(&compact, &text).map(|gaps| {
        SUBSEQUENCE_MAX
            - i64::try_from(gaps)
                .unwrap_or(SUBSEQUENCE_MAX)
                .min(SUBSEQUENCE_MAX)
    })
}

/// The number of skipped characters when `needle`'s letters are found in order in `haystack`.
fn subsequence_gaps(needle: &str, haystack: &str) -> Option<usize> {
    let mut gaps = 0;
    let mut started = false;
    let mut wanted = needle.chars().peekable();
    for c in haystack.chars() {
        match wanted.peek() {
            None => break,
            Some(&next) if next == c => {
                wanted.next();
                started = true;
            }
            Some(_) if started => gaps += 1,
            Some(_) => {}
        }
    }
    wanted.peek().is_none().then_some(gaps)
}

/// The indices of `items` that match `query`, best first, at most `limit`; an item's score is the
/// best over the names `names` gives for it. Ties keep the items' order.
pub fn rank<'a, T>(
    items: &'a [T],
    query: &str,
    limit: usize,
    names: impl Fn(&'a T) -> Vec<&'a str>,
) -> Vec<usize> {
    let mut scored: Vec<(i64, usize)> = items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            names(item)
                .into_iter()
                .filter_map(|name| score(query, name))
                .max()
                .map(|best| (best, index))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    // Letters-in-order matches are a fallback: drop them when some name matches word by word.
    if scored
        .first()
        .is_some_and(|(best, _)| *best > SUBSEQUENCE_MAX)
    {
        scored.retain(|(score, _)| *score > SUBSEQUENCE_MAX);
    }
    scored
        .into_iter()
        .take(limit)
        .map(|(_, index)| index)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_prefix_beats_word_beats_subsequence() {
        let exact = score("ecg", "ecg").expect("matches");
        let prefix = score("trop", "troponin i").expect("matches");
        let word = score("ray", "chest x ray").expect("matches");
        let letters = score("trpn", "troponin i").expect("matches");
        assert!(exact > prefix && prefix > word && word > letters);
        assert_eq!(score("zzz", "troponin i"), None);
    }

    #[test]
    fn every_typed_word_must_match() {
        assert!(score("chest x", "chest x-ray").is_some());
        assert!(score("chest mri", "chest x-ray").is_none());
    }

    #[test]
    fn rank_uses_the_best_name_of_each_item() {
        let items = [
            ("Complete blood count", "fbc"),
            ("Basic metabolic panel", "u&e"),
        ];
        let ranked = rank(&items, "fbc", 10, |item| vec![item.0, item.1]);
        assert_eq!(ranked, [0]);
        // "bmp" starts no word: letters in order are the fallback.
        let ranked = rank(&items, "bmp", 10, |item| vec![item.0]);
        assert_eq!(ranked, [1]);
    }
}
