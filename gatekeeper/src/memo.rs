//! [`TextMemo`]: results of a pure function of a text, remembered up to a bound and shared between
//! threads (the resolver's requests, the patient's questions: agents repeat the same texts across
//! thousands of episodes).

use std::sync::{PoisonError, RwLock};

use rustc_hash::FxHashMap;

/// Values computed from texts, remembered until `limit` texts are held; later new texts are
/// computed afresh each time. Readers share the lock, so a batch stepping in parallel does not queue
/// on a hit.
#[derive(Debug)]
pub struct TextMemo<T> {
    known: RwLock<FxHashMap<String, T>>,
    limit: usize,
}

impl<T: Clone> TextMemo<T> {
    /// An empty memo holding at most `limit` texts.
    pub fn new(limit: usize) -> TextMemo<T> {
        TextMemo {
            known: RwLock::default(),
            limit,
        }
    }

    /// The remembered value for `text`, or `compute()`, remembered while there is room.
    pub fn get_or_compute(&self, text: &str, compute: impl FnOnce() -> T) -> T {
        if let Some(known) = self
            .known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(text)
        {
            return known.clone();
        }
        let value = compute();
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() < self.limit {
            known.insert(text.to_string(), value.clone());
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_up_to_its_limit_then_computes_afresh() {
        let memo = TextMemo::new(1);
        let mut calls = 0;
        let mut twice = |text: &str| {
            memo.get_or_compute(text, || {
                calls += 1;
                text.len()
            })
        };
        assert_eq!(twice("abc"), 3);
        assert_eq!(twice("abc"), 3);
        assert_eq!(twice("de"), 2);
        assert_eq!(twice("de"), 2);
        assert_eq!(
            calls, 3,
            "one computation for the remembered text, two for the other"
        );
    }
}
