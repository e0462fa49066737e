//! Opening the LLM configuration a command was given (`--llm-config`, `--llm-cache`).

use std::path::Path;

use dxsim::llm::{LlmCache, LlmClients, LlmConfig};

use super::UserError;

/// Loads the configuration at `config` and builds its clients, caching replies in the SQLite file
/// `cache` when one is given. Every failure is the user's to fix.
pub(crate) fn open_clients(
    config: &Path,
    cache: Option<&Path>,
) -> anyhow::Result<(LlmConfig, LlmClients)> {
    let user = |error: &dyn std::fmt::Display| UserError::new(error.to_string(), None);
    let config = LlmConfig::load(config).map_err(|error| user(&error))?;
    let cache = cache
        .map(LlmCache::open)
        .transpose()
        .map_err(|error| user(&error))?;
    let clients = LlmClients::new(&config, cache.as_ref()).map_err(|error| user(&error))?;
    Ok((config, clients))
}
