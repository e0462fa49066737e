//! Rebuilds the crate when the case library changes (`include_dir!` embeds `cases/`, but on stable
//! Rust it cannot tell cargo which files it read), and fingerprints the code, data and cases that
//! cached tables are built from, so that a table one build caches on disk is never read by another
//! (`src/disk_cache.rs`).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// What cached tables are made from: the crate's code and cases, the gatekeeper's code and data.
const FINGERPRINTED: [&str; 4] = ["src", "cases", "gatekeeper/src", "gatekeeper/data"];

fn main() {
    let mut files = Vec::new();
    for directory in FINGERPRINTED {
        println!("cargo:rerun-if-changed={directory}");
        collect_files(Path::new(directory), &mut files);
    }
    files.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    for file in &files {
        file.hash(&mut hasher);
        match std::fs::read(file) {
            Ok(bytes) => bytes.hash(&mut hasher),
            Err(error) => panic!("build script: cannot read {}: {error}", file.display()),
        }
    }
    println!(
        "cargo:rustc-env=DXSIM_SOURCE_FINGERPRINT={:016x}",
        hasher.finish()
    );
}

/// Every file under `directory`, recursively.
fn collect_files(directory: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(directory).unwrap_or_else(|error| {
        panic!("build script: cannot list {}: {error}", directory.display())
    });
    for entry in entries {
        let path = entry
            .unwrap_or_else(|error| {
                panic!("build script: cannot list {}: {error}", directory.display())
            })
            .path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}
