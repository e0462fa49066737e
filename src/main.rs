//! The `dxsim` command: one way in for every user (see `dxsim --help`).

mod cli;

/// mimalloc rather than the system allocator: a step builds many short strings (findings, reports,
/// transcript lines), and the episode engine runs about a quarter faster on it (see the episode
/// bench, which uses it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
