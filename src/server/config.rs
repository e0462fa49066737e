//! The server's configuration: where it keeps its store, who may use it, and its limits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::store::Durability;

/// The name of the one user of an open-mode server.
pub const OPEN_MODE_OWNER: &str = "local";

/// Who may call the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No tokens: every request acts as [`OPEN_MODE_OWNER`]. For local use only.
    Open,
    /// Bearer tokens, each mapped to the name of its owner.
    Tokens(HashMap<String, Arc<str>>),
}

/// A token list that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// An entry with an empty name or token.
    #[error("token entry {0} is empty: write NAME=TOKEN")]
    Empty(usize),
    /// A token too short to be a secret.
    #[error("the token of `{0}` is shorter than 8 characters")]
    TooShort(String),
    /// The same token twice.
    #[error("the token of `{0}` is also given to another name")]
    Duplicate(String),
    /// No tokens at all.
    #[error("no tokens given")]
    None,
}

impl Access {
    /// Reads tokens written as `NAME=TOKEN` entries separated by commas or newlines (blank entries
    /// and `#` comment lines are skipped). A bare `TOKEN` is named after its position (`token-1`, …).
    pub fn parse_tokens(text: &str) -> Result<Access, TokenError> {
        let mut tokens = HashMap::new();
        let entries = text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|entry| !entry.is_empty() && !entry.starts_with('#'));
        for (position, entry) in entries.enumerate() {
            let (name, token) = match entry.split_once('=') {
                Some((name, token)) => (name.trim().to_string(), token.trim()),
                None => (format!("token-{}", position + 1), entry),
            };
            if name.is_empty() || token.is_empty() {
                return Err(TokenError::Empty(position + 1));
            }
            if token.chars().count() < 8 {
                return Err(TokenError::TooShort(name));
            }
            if tokens
                .insert(token.to_string(), Arc::from(name.as_str()))
                .is_some()
            {
                return Err(TokenError::Duplicate(name));
            }
        }
        if tokens.is_empty() {
            return Err(TokenError::None);
        }
        Ok(Access::Tokens(tokens))
    }
}

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Longest action text (a question, a test name, a diagnosis, a text-protocol message), characters.
    pub max_action_chars: usize,
    /// Live episodes one token may hold (a vector env counts as its episodes).
    pub max_episodes_per_token: usize,
    /// Live episodes on the whole server.
    pub max_episodes: usize,
    /// Episodes idle this long are closed.
    pub idle_expiry: Duration,
    /// Largest vector environment.
    pub max_vector_count: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_action_chars: 8192,
            max_episodes_per_token: 1024,
            max_episodes: 65_536,
            idle_expiry: Duration::from_secs(1800),
            max_vector_count: 16_384,
        }
    }
}

/// Everything `run` needs besides the listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The SQLite file for event logs; `None` keeps them in memory (lost on exit).
    pub store: Option<PathBuf>,
    /// How hard commits work to reach the disk.
    pub durability: Durability,
    /// Who may call.
    pub access: Access,
    /// The limits.
    pub limits: Limits,
    /// Engine worker threads, each owning a share of the episodes.
    pub shards: usize,
    /// Whether `GET /v1/cases` also lists each case's id, title, specialty, difficulty and split and
    /// filters on them: the authors' view, for an operator's own tools. Off by default, because an
    /// agent that can read it can map a presentation to a clue-bearing id (DESIGN.md §3.9).
    pub case_details: bool,
    /// The cases served, one library or several merged (an episode picks one with
    /// `options.case.library`); `None` serves the built-in library.
    pub library: Option<&'static crate::library::CaseLibrary>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            store: None,
            durability: Durability::Process,
            access: Access::Open,
            limits: Limits::default(),
            shards: std::thread::available_parallelism().map_or(2, |cores| cores.get()),
            case_details: false,
            library: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_named_entries() {
        let Ok(Access::Tokens(tokens)) =
            Access::parse_tokens("alice=s3cret-one, bob = s3cret-two\n# a comment\nbare-token-xyz")
        else {
            panic!("tokens should parse");
        };
        assert_eq!(tokens.len(), 3);
        assert_eq!(tokens.get("s3cret-two").map(|name| &**name), Some("bob"));
        assert_eq!(
            tokens.get("bare-token-xyz").map(|name| &**name),
            Some("token-3")
        );
    }

    #[test]
    fn weak_or_repeated_tokens_are_refused() {
        assert_eq!(
            Access::parse_tokens("alice=short"),
            Err(TokenError::TooShort("alice".into()))
        );
        assert_eq!(
            Access::parse_tokens("a=same-token-1,b=same-token-1"),
            Err(TokenError::Duplicate("b".into()))
        );
        assert_eq!(Access::parse_tokens(" , "), Err(TokenError::None));
        assert_eq!(Access::parse_tokens("=abcdefgh"), Err(TokenError::Empty(1)));
    }
}
