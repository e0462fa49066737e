//! The built-in case files, embedded in the binary at build time from `cases/`. The case library
//! ([`crate::library`]) parses and validates them; the patient ([`crate::patient`]) reads their
//! histories as its background corpus, for how common a word is in what patients say.

use include_dir::{Dir, include_dir};

static CASES_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/cases");

/// The embedded case files as `(cases/<file>, text)` pairs, sorted by name.
pub fn sources() -> Vec<(String, &'static str)> {
    let mut sources: Vec<(String, &'static str)> = CASES_DIR
        .files()
        .filter(|file| file.path().extension().is_some_and(|ext| ext == "toml"))
        .filter_map(|file| {
            Some((
                format!("cases/{}", file.path().display()),
                file.contents_utf8()?,
            ))
        })
        .collect();
    sources.sort();
    sources
}
