//! The LLM judge (DESIGN.md §3.7): the same 1–5 rubric as the rule-based judge, asked of a language
//! model with a JSON reply, and measured on the same calibration set (`dxsim judge calibrate --judge
//! llm`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::calibration::{self, Agreement, CalibrationPair};
use super::{CORRECT_AT, Reference, RuleJudge, Verdict};
use crate::llm::{
    ChatMessage, ChatRequest, LlmClients, LlmError, ResponseFormat, Role, json_object, snippet,
};

/// The rubric, in our words.
const RUBRIC: &str = "You grade a doctor's final diagnosis against the reference diagnosis of a \
clinical case, on this scale:\n\
5 — the same diagnosis, or a more specific form of it;\n\
4 — the core disease is right, but a minor qualifier is off or missing (side, acuity, severity, a \
site within the same organ);\n\
3 — the right category, but a major element is wrong or missing: a sibling disease with other \
management, or a qualifier that changes management (cause, organ, type, ruptured or not, malignant \
or drug cause);\n\
2 — only a superficial overlap (a shared organ or symptom, a related but different condition);\n\
1 — unrelated, or no diagnosis.\n\
Synonyms, eponyms, abbreviations and ICD-10-CM codes of the same condition count as the same \
diagnosis. Judge only what was written. An answer that names several alternative conditions, or \
that negates or hedges the condition (\"no …\", \"… ruled out\", \"possible …\"), scores 1. Reply \
with one JSON object: {\"score\": <1-5>, \"rationale\": \"<one sentence>\"}.";

/// Why the LLM judge could not score a diagnosis.
#[derive(Debug, thiserror::Error)]
pub enum LlmJudgeError {
    /// The call failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The reply is not the JSON object the rubric asks for.
    #[error("the judge's reply is not {{\"score\": 1-5, \"rationale\": …}}: {0}")]
    Malformed(String),
    /// Scoring one calibration pair failed.
    #[error("scoring `{candidate}` against `{reference}`: {source}")]
    Pair {
        /// The pair's reference.
        reference: String,
        /// The pair's candidate.
        candidate: String,
        /// Why.
        source: Box<LlmJudgeError>,
    },
    /// `--judge jury` with fewer than two jurors configured.
    #[error(
        "the LLM configuration names no jury: add `jury = [\"a\", \"b\", \"c\"]` (endpoint names)"
    )]
    NoJury,
    /// A scoring task stopped without a verdict.
    #[error("a calibration pair was left unscored")]
    Incomplete,
}

/// Scores diagnoses with the model configured for the `judge` role, or with a jury of endpoints.
#[derive(Debug, Clone)]
pub struct LlmJudge {
    clients: Arc<LlmClients>,
    jury: bool,
}

/// One juror's vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JuryVote {
    /// The juror's endpoint name.
    pub endpoint: String,
    /// Its score, 1–5.
    pub score: u8,
    /// Its one-line reason.
    pub rationale: String,
}

/// A jury's verdict: the median score (for an odd jury, the majority's call) and every vote.
#[derive(Debug, Clone)]
pub struct JuryVerdict {
    /// The verdict that stands.
    pub verdict: Verdict,
    /// Every juror's vote, in the configuration's order (empty when the answer reader scored the
    /// answer without asking: a list, a negation or a hedge).
    pub votes: Vec<JuryVote>,
}

impl JuryVerdict {
    /// Whether the jurors split on correct/incorrect.
    pub fn split(&self) -> bool {
        let correct = self
            .votes
            .iter()
            .filter(|vote| vote.score >= CORRECT_AT)
            .count();
        correct != 0 && correct != self.votes.len()
    }
}

impl LlmJudge {
    /// A judge calling through `clients` (which must configure the `judge` role).
    pub fn new(clients: Arc<LlmClients>) -> LlmJudge {
        LlmJudge {
            clients,
            jury: false,
        }
    }

    /// A jury calling every endpoint of `clients`' jury (at least two).
    pub fn jury(clients: Arc<LlmClients>) -> LlmJudge {
        LlmJudge {
            clients,
            jury: true,
        }
    }

    /// Scores every calibration pair (all in flight at once, within the endpoint's concurrency
    /// limit) and counts the agreement; the first failure names its pair.
    pub async fn calibrate(&self, pairs: &[CalibrationPair]) -> Result<Agreement, LlmJudgeError> {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, pair) in pairs.iter().enumerate() {
            let judge = self.clone();
            let pair = pair.clone();
            tasks.spawn(async move {
                let synonyms = pair.synonyms();
                let verdict = judge
                    .verdict(
                        &format!("calibration-{index}"),
                        pair.reference(&synonyms),
                        &pair.candidate,
                        pair.candidate_code(),
                    )
                    .await
                    .map(|jury| jury.verdict)
                    .map_err(|error| LlmJudgeError::Pair {
                        reference: pair.reference.clone(),
                        candidate: pair.candidate.clone(),
                        source: Box::new(error),
                    });
                (index, verdict)
            });
        }
        let mut verdicts: Vec<Option<Verdict>> = vec![None; pairs.len()];
        while let Some(joined) = tasks.join_next().await {
            let Ok((index, verdict)) = joined else {
                continue;
            };
            verdicts[index] = Some(verdict?);
        }
        let verdicts: Option<Vec<Verdict>> = verdicts.into_iter().collect();
        let verdicts = verdicts.ok_or(LlmJudgeError::Incomplete)?;
        Ok(calibration::tally(pairs, verdicts))
    }

    /// Scores `candidate` by this judge's kind: one model, or the jury (then with every vote).
    pub async fn verdict(
        &self,
        episode: &str,
        reference: Reference<'_>,
        candidate: &str,
        candidate_icd10: Option<&str>,
    ) -> Result<JuryVerdict, LlmJudgeError> {
        if !self.jury {
            let verdict = self
                .judge(episode, reference, candidate, candidate_icd10)
                .await?;
            return Ok(JuryVerdict {
                verdict,
                votes: Vec::new(),
            });
        }
        if let Some(verdict) = not_one_diagnosis(reference, candidate, candidate_icd10) {
            return Ok(JuryVerdict {
                verdict,
                votes: Vec::new(),
            });
        }
        let request = Arc::new(judge_request(reference, candidate, candidate_icd10));
        let names: Vec<String> = self
            .clients
            .jurors()
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect();
        if names.len() < 2 {
            return Err(LlmJudgeError::NoJury);
        }
        // Every juror at once; votes are put back in the configuration's order.
        let mut calls = tokio::task::JoinSet::new();
        for (index, name) in names.iter().enumerate() {
            let (clients, request) = (Arc::clone(&self.clients), Arc::clone(&request));
            let (name, episode) = (name.clone(), episode.to_string());
            calls.spawn(async move {
                let client = clients
                    .jurors()
                    .into_iter()
                    .find(|(juror, _)| *juror == name)
                    .map(|(_, client)| client)
                    .ok_or(LlmJudgeError::NoJury)?;
                let reply = client.chat(Role::Judge, &episode, &request).await?;
                let verdict = parse_verdict(&reply.content)?;
                Ok::<_, LlmJudgeError>((
                    index,
                    JuryVote {
                        endpoint: name,
                        score: verdict.score,
                        rationale: verdict.rationale,
                    },
                ))
            });
        }
        let mut votes: Vec<Option<JuryVote>> = vec![None; names.len()];
        while let Some(joined) = calls.join_next().await {
            let (index, vote) = joined.map_err(|_| LlmJudgeError::Incomplete)??;
            votes[index] = Some(vote);
        }
        let votes: Vec<JuryVote> = votes
            .into_iter()
            .collect::<Option<_>>()
            .ok_or(LlmJudgeError::Incomplete)?;
        let mut scores: Vec<u8> = votes.iter().map(|vote| vote.score).collect();
        scores.sort_unstable();
        // The lower median: an even jury that splits does not credit the answer.
        let score = scores[(scores.len() - 1) / 2];
        let tally: Vec<String> = votes
            .iter()
            .map(|vote| format!("{} {}", vote.endpoint, vote.score))
            .collect();
        Ok(JuryVerdict {
            verdict: Verdict {
                score,
                correct: score >= CORRECT_AT,
                rationale: format!("jury ({}): median {score}", tally.join(", ")),
            },
            votes,
        })
    }

    /// Scores `candidate` (with its code, if given) against `reference`; `episode` names the call
    /// in the usage accounts.
    pub async fn judge(
        &self,
        episode: &str,
        reference: Reference<'_>,
        candidate: &str,
        candidate_icd10: Option<&str>,
    ) -> Result<Verdict, LlmJudgeError> {
        if let Some(verdict) = not_one_diagnosis(reference, candidate, candidate_icd10) {
            return Ok(verdict);
        }
        let reply = self
            .clients
            .chat(
                Role::Judge,
                episode,
                &judge_request(reference, candidate, candidate_icd10),
            )
            .await?;
        parse_verdict(&reply.content)
    }
}

/// The rule-based verdict on an answer that is not one final diagnosis (a list, a negation, a
/// hedge), read by the same rules as the rule-based judge: it scores 1 without asking a model, so no
/// model can be talked into crediting one. `None` for one diagnosis, which the model judges.
fn not_one_diagnosis(
    reference: Reference<'_>,
    candidate: &str,
    candidate_icd10: Option<&str>,
) -> Option<Verdict> {
    let rules = RuleJudge::shared();
    let one = RuleJudge::names_reference_verbatim(reference, candidate)
        || rules.read_answer(candidate).one().is_some();
    (!one).then(|| rules.judge(reference, candidate, candidate_icd10))
}

/// The request that asks for one verdict (temperature 0: a judge should not vary).
pub fn judge_request(
    reference: Reference<'_>,
    candidate: &str,
    candidate_icd10: Option<&str>,
) -> ChatRequest {
    let synonyms = if reference.synonyms.is_empty() {
        String::from("none listed")
    } else {
        reference.synonyms.join("; ")
    };
    let user = format!(
        "Reference diagnosis: {} (ICD-10-CM {}). Accepted synonyms: {synonyms}.\n\
Doctor's diagnosis: {candidate}{code}.",
        reference.name,
        reference.icd10,
        code = candidate_icd10
            .map(|code| format!(" (ICD-10-CM {code})"))
            .unwrap_or_default(),
    );
    ChatRequest {
        messages: vec![ChatMessage::system(RUBRIC), ChatMessage::user(user)],
        temperature: Some(0.0),
        max_tokens: Some(200),
        response_format: Some(ResponseFormat::JsonObject),
    }
}

/// Reads a verdict from the model's reply (a JSON object, possibly wrapped in a code fence).
pub fn parse_verdict(reply: &str) -> Result<Verdict, LlmJudgeError> {
    let value = json_object(reply).map_err(|_| LlmJudgeError::Malformed(snippet(reply)))?;
    let score = value
        .get("score")
        .and_then(|score| {
            score
                .as_u64()
                .or_else(|| score.as_str().and_then(|text| text.trim().parse().ok()))
        })
        .filter(|score| (1..=5).contains(score))
        .ok_or_else(|| LlmJudgeError::Malformed(snippet(reply)))?;
    let rationale = value
        .get("rationale")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    let score = u8::try_from(score).unwrap_or(1);
    Ok(Verdict {
        score,
        correct: score >= CORRECT_AT,
        rationale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_in_the_wrong_order_are_malformed_not_a_panic() {
        assert!(matches!(
            parse_verdict("} no verdict here {"),
            Err(LlmJudgeError::Malformed(_))
        ));
    }

    #[test]
    fn verdicts_parse_from_plain_or_fenced_json() {
        let verdict = parse_verdict(r#"{"score": 4, "rationale": "site off"}"#).expect("parses");
        assert_eq!((verdict.score, verdict.correct), (4, true));
        let fenced = "```json\n{\"score\": \"2\", \"rationale\": \"overlap\"}\n```";
        assert_eq!(parse_verdict(fenced).expect("parses").score, 2);
        for bad in ["", "five", r#"{"score": 9}"#, r#"{"rationale": "x"}"#] {
            assert!(parse_verdict(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_carries_the_reference_and_candidate() {
        let synonyms = vec!["PE".to_string()];
        let request = judge_request(
            Reference {
                name: "Pulmonary embolism",
                icd10: "I26.99",
                synonyms: &synonyms,
            },
            "Saddle embolus",
            Some("I26.92"),
        );
        let user = &request.messages[1].content;
        assert!(user.contains("Pulmonary embolism") && user.contains("Saddle embolus"));
        assert!(user.contains("I26.92"));
        assert_eq!(request.temperature, Some(0.0));
    }
}
