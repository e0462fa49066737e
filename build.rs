//! Rebuilds the crate when the case library changes: `include_dir!` embeds `cases/`, but on stable Rust
//! it cannot tell cargo which files it read.

fn main() {
    println!("cargo:rerun-if-changed=cases");
}
