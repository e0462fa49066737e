//! `dxsim play` in a real terminal: tmux runs it on a fixed case and seed, a whole encounter is typed
//! with `send-keys` (ask, examine, order two tests through the picker, diagnose), and the screen is
//! read with `capture-pane`. Also `dxsim logbook`, and `dxsim play` refusing to run without a terminal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dxsim::episode::EpisodeOptions;
use dxsim::library::CaseLibrary;
use dxsim_gatekeeper::{Catalogue, Money};

/// How long to wait for a screen: a debug build of the engine can take several seconds to judge.
const PATIENCE: Duration = Duration::from_secs(180);

const CASE: &str = "cardio-chest-pressure-snow";

fn dxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(args)
        .output()
        .expect("the dxsim binary runs")
}

fn tempdir(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("play-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A tmux server of our own (its own socket), killed when the test ends however it ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Whether tmux can be run here.
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|output| output.status.success())
    }

    /// Starts `command` in a detached 80×24 session.
    fn start(name: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("dxsim-{name}-{}", std::process::id()),
        };
        let status = Command::new("tmux")
            .args(["-L", &tmux.socket, "-f", "/dev/null"])
            .args(["new-session", "-d", "-s", "play", "-x", "80", "-y", "24"])
            .arg(command)
            .status()
            .expect("tmux starts");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Sends keys by tmux's names (`Enter`, `Tab`, `C-u`, or a single character).
    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let output = self.tmux(&["send-keys", "-t", "play", key]);
            assert!(output.status.success(), "send-keys {key}");
        }
    }

    /// Types text literally.
    fn text(&self, text: &str) {
        let output = self.tmux(&["send-keys", "-t", "play", "-l", text]);
        assert!(output.status.success(), "send-keys -l {text}");
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "play"]).stdout)
            .into_owned()
    }

    /// Waits until the screen shows `needle`; returns the screen, or fails showing the last one.
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "waited {PATIENCE:?} for {needle:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// What the encounter below costs: one visit, then the ECG and troponin at catalogue prices.
fn expected_total() -> Money {
    let catalogue = Catalogue::builtin();
    let price = |id: &str| catalogue.test(id).expect("a catalogue test").price;
    Money::from_dollars(EpisodeOptions::default().visit_fee_usd) + price("ecg") + price("troponin")
}

/// Whether to run the terminal test: tmux is needed; CI installs it, so there its absence fails.
fn tmux_or_skip() -> bool {
    if Tmux::available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tmux is missing on CI: .ci/run installs it"
    );
    eprintln!("skipping the terminal test: tmux is not installed (apt-get install tmux)");
    false
}

#[test]
fn a_full_encounter_typed_in_a_real_terminal_ends_in_the_debrief_with_the_right_total() {
    if !tmux_or_skip() {
        return;
    }
    let dir = tempdir("e2e");
    let logbook = dir.join("logbook.sqlite");
    let command = format!(
        "env NO_COLOR=1 DXSIM_LOGBOOK='{}' '{}' play --case {CASE} --seed 42; echo \"dxsim exited with $?\"; sleep 600",
        logbook.display(),
        env!("CARGO_BIN_EXE_dxsim"),
    );
    let tmux = Tmux::start("e2e", &command);
    let total = expected_total();

    tmux.wait_for("Turn 0/40");
    tmux.keys(&["a"]);
    tmux.wait_for("Ask the patient ▸");
    tmux.text("When did the pain start?");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Turn 1/40");

    tmux.keys(&["e"]);
    tmux.wait_for("System ▸");
    tmux.text("cardio");
    tmux.wait_for(" Cardiovascular");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Turn 2/40");

    tmux.keys(&["o"]);
    tmux.wait_for("Search ▸");
    tmux.text("ecg");
    tmux.wait_for("12-lead electrocardiogram");
    tmux.keys(&["Tab", "C-u"]);
    tmux.text("troponin");
    tmux.wait_for("Troponin I");
    tmux.keys(&["Tab"]);
    tmux.wait_for("Selected 2");
    tmux.keys(&["Enter"]);
    let review = tmux.wait_for("Place this order?");
    let tests = total.0 - Money::from_dollars(EpisodeOptions::default().visit_fee_usd).0;
    assert!(
        review.contains(&Money(tests).to_string()),
        "the order total is shown before confirming:\n{review}"
    );
    tmux.keys(&["y"]);
    let encounter = tmux.wait_for("Turn 3/40");
    assert!(
        encounter.contains(&format!("Total {total}")),
        "the meter shows {total}:\n{encounter}"
    );

    tmux.keys(&["d"]);
    tmux.wait_for("Your diagnosis ▸");
    tmux.text("inferior STEMI");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Final diagnosis");
    tmux.keys(&["y"]);
    let debrief = tmux.wait_for("· debrief");
    let case = CaseLibrary::builtin()
        .expect("library")
        .get(CASE)
        .expect("the case");
    assert!(debrief.contains("✔ Correct — score 5/5"), "{debrief}");
    assert!(
        debrief.contains(&format!("True diagnosis: {}", case.diagnosis.name)),
        "{debrief}"
    );
    assert!(
        debrief.contains(&format!("You: {total} in 4 steps")),
        "the debrief shows the path's cost {total}:\n{debrief}"
    );
    assert!(debrief.contains("Reference: $"), "{debrief}");

    tmux.keys(&["q"]);
    tmux.wait_for("dxsim exited with 0");

    // The case is in the logbook, with its cost.
    let output = dxsim(&[
        "logbook",
        "--logbook",
        logbook.to_str().expect("utf-8 path"),
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("cardiology"), "{text}");
    assert!(text.contains("100%"), "{text}");
    assert!(
        text.contains(CASE) && text.contains(&total.to_string()),
        "{text}"
    );
}

#[test]
fn quitting_mid_case_in_a_real_terminal_saves_it_for_resume() {
    if !tmux_or_skip() {
        return;
    }
    let dir = tempdir("resume");
    let logbook = dir.join("logbook.sqlite");
    let play = |args: &str| {
        format!(
            "env NO_COLOR=1 DXSIM_LOGBOOK='{}' '{}' play {args}; echo \"dxsim exited with $?\"; sleep 600",
            logbook.display(),
            env!("CARGO_BIN_EXE_dxsim"),
        )
    };
    let tmux = Tmux::start("suspend", &play(&format!("--case {CASE} --seed 7")));
    tmux.wait_for("Turn 0/40");
    tmux.keys(&["a"]);
    tmux.text("Any past medical history?");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Turn 1/40");
    tmux.keys(&["q"]);
    tmux.wait_for("Leave this case?");
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("dxsim exited with 0");
    assert!(screen.contains("dxsim play --resume"), "{screen}");
    drop(tmux);

    let tmux = Tmux::start("resume", &play("--resume"));
    let screen = tmux.wait_for("Turn 1/40");
    assert!(screen.contains("Any past medical history?"), "{screen}");
    assert!(screen.contains("Total $300.00"), "{screen}");
}

#[test]
fn play_without_a_terminal_is_a_user_error_with_a_hint() {
    let output = dxsim(&["play", "--case", CASE]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("needs an interactive terminal"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn logbook_of_a_new_file_says_there_is_nothing_yet() {
    let dir = tempdir("empty-logbook");
    let path = dir.join("nested").join("logbook.sqlite");
    let output = dxsim(&["logbook", "--logbook", path.to_str().expect("utf-8 path")]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("no finished cases yet"), "{text}");
}

#[test]
fn a_logbook_that_is_not_sqlite_is_refused_with_its_path() {
    let dir = tempdir("bad-logbook");
    let path = dir.join("logbook.sqlite");
    std::fs::write(&path, "not a database, just words that fill a page of text").expect("write");
    let output = dxsim(&["logbook", "--logbook", path.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("logbook.sqlite"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}
