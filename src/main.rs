//! The `dxsim` command: one way in for every user (see `dxsim --help`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
