//! The runtime: starts or resumes the episode, owns the terminal, and loops — draw, wait for an
//! event, [`update`], carry out the effect through the driver, feed the reply back — until the
//! student leaves. Finished cases go to the logbook; a case left mid-way is saved beside it.

use std::io;
use std::path::PathBuf;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, MouseEventKind,
};
use ratatui::crossterm::execute;

use crate::app::App;
use crate::driver::{CaseRequest, DriverError, EpisodeDriver};
use crate::logbook::Logbook;
use crate::ui::{self, Theme};
use crate::update::{AppEvent, Effect, PICKER_RESULTS, update};

/// Why `dxsim play` could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlayError {
    /// The episode could not be started or resumed.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// `--resume` with nothing saved.
    #[error("there is no case to resume: nothing is saved at {0}")]
    NothingToResume(PathBuf),
    /// The saved case could not be read.
    #[error("cannot read the saved case {path}: {source}")]
    ReadSaved {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The terminal failed.
    #[error("terminal error: {0}")]
    Terminal(#[from] io::Error),
}

/// How a play session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The student left after finishing (or without starting) a case.
    Finished,
    /// The student left mid-case; it was saved here.
    Suspended(PathBuf),
}

/// How to begin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A new case.
    New(CaseRequest),
    /// The case saved beside the logbook; `next` is used for "next case" afterwards.
    Resume {
        /// The request for any case started after this one.
        next: CaseRequest,
    },
}

/// Carries out effects through the driver, records finished cases and saves suspended ones.
pub struct Runner<'d> {
    driver: &'d mut dyn EpisodeDriver,
    logbook: Logbook,
    request: CaseRequest,
    recorded: bool,
    exit: Exit,
}

impl<'d> Runner<'d> {
    /// Starts or resumes the episode and builds the app showing it.
    pub fn start(
        driver: &'d mut dyn EpisodeDriver,
        logbook: Logbook,
        start: Start,
        size: (u16, u16),
    ) -> Result<(Runner<'d>, App), PlayError> {
        let mut notice = None;
        let (request, turns, notes) = match start {
            Start::New(request) => {
                let turn = driver.reset(&request)?;
                if matches!(logbook.read_suspended(), Ok(Some(_))) {
                    notice = Some(
                        "A case you left earlier is saved: `dxsim play --resume` picks it up \
                         (leaving this one mid-way would replace it).",
                    );
                }
                (request, vec![turn], String::new())
            }
            Start::Resume { next } => {
                let saved = logbook
                    .read_suspended()
                    .map_err(|source| PlayError::ReadSaved {
                        path: logbook.suspended_path(),
                        source,
                    })?;
                let Some((log, notes)) = saved else {
                    return Err(PlayError::NothingToResume(logbook.suspended_path()));
                };
                driver.resume(&log)?;
                (next, driver.transcript(), notes)
            }
        };
        let mut app = App::new(turns, driver.exam_systems(), size);
        app.differential = notes;
        if let Some(notice) = notice {
            app.inform(notice);
        }
        let mut runner = Runner {
            driver,
            logbook,
            request,
            recorded: false,
            exit: Exit::Finished,
        };
        if !app.in_progress() {
            // A saved case that had already ended (the app was stopped before its debrief).
            runner.perform(&mut app, Effect::Debrief);
        }
        Ok((runner, app))
    }

    /// How the session ended (meaningful once the app has quit).
    pub fn exit(&self) -> &Exit {
        &self.exit
    }

    /// Applies an event and carries out whatever it asks for, until nothing more is asked.
    pub fn handle(&mut self, app: &mut App, event: AppEvent) {
        if let Some(effect) = update(app, event) {
            self.perform(app, effect);
        }
    }

    fn perform(&mut self, app: &mut App, effect: Effect) {
        let reply = match effect {
            Effect::Step(action) => AppEvent::Stepped(self.driver.step(&action)),
            Effect::Search(query) => {
                AppEvent::Found(self.driver.search_catalogue(&query, PICKER_RESULTS))
            }
            Effect::Debrief => AppEvent::Debriefed(self.debrief().map(Box::new)),
            Effect::Logbook => {
                AppEvent::LogbookLoaded(self.logbook.view().map_err(|error| error.to_string()))
            }
            Effect::NewCase => {
                self.request.seed = self.request.seed.wrapping_add(1);
                self.recorded = false;
                AppEvent::Started(self.driver.reset(&self.request))
            }
            Effect::SaveAndQuit => match self.save(app) {
                Ok(path) => {
                    self.exit = Exit::Suspended(path);
                    app.quit = true;
                    return;
                }
                Err(message) => AppEvent::SaveFailed(message),
            },
            Effect::Quit => {
                app.quit = true;
                return;
            }
        };
        self.handle(app, reply);
    }

    /// Fetches the debrief, records the case in the logbook once, and drops any saved copy.
    fn debrief(&mut self) -> Result<crate::driver::Debrief, String> {
        let debrief = self.driver.debrief().map_err(|error| error.to_string())?;
        if !self.recorded {
            self.logbook
                .record(&debrief)
                .map_err(|error| format!("the case was not recorded in the logbook: {error}"))?;
            self.recorded = true;
            self.logbook.clear_suspended().map_err(|error| {
                format!(
                    "the finished case is still saved at {}: {error}",
                    self.logbook.suspended_path().display()
                )
            })?;
        }
        Ok(debrief)
    }

    fn save(&self, app: &App) -> Result<PathBuf, String> {
        let log = self.driver.save().map_err(|error| error.to_string())?;
        self.logbook
            .write_suspended(&log, &app.differential)
            .map_err(|error| {
                format!(
                    "could not save the case to {}: {error}",
                    self.logbook.suspended_path().display()
                )
            })
    }
}

/// Reads the next terminal event that matters to the app.
fn next_event() -> io::Result<Option<AppEvent>> {
    Ok(match event::read()? {
        Event::Key(key) => Some(AppEvent::Key(key)),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Some(AppEvent::ScrollUp {
                column: mouse.column,
                row: mouse.row,
            }),
            MouseEventKind::ScrollDown => Some(AppEvent::ScrollDown {
                column: mouse.column,
                row: mouse.row,
            }),
            _ => None,
        },
        Event::Resize(columns, rows) => Some(AppEvent::Resize(columns, rows)),
        _ => None,
    })
}

/// Draws, waits for an event, handles it; until the app quits. Redraws only after an event.
fn event_loop(
    terminal: &mut DefaultTerminal,
    runner: &mut Runner<'_>,
    app: &mut App,
    theme: &Theme,
) -> io::Result<()> {
    while !app.quit {
        terminal.draw(|frame| ui::render(app, theme, frame))?;
        if let Some(event) = next_event()? {
            runner.handle(app, event);
        }
    }
    Ok(())
}

/// Runs `dxsim play` in this terminal: starts or resumes the case, then the app until the student
/// leaves.
pub fn play(
    driver: &mut dyn EpisodeDriver,
    logbook: Logbook,
    start: Start,
) -> Result<Exit, PlayError> {
    let size = ratatui::crossterm::terminal::size().unwrap_or((80, 24));
    // Start before taking over the terminal, so a bad case id is reported as a plain error.
    let (mut runner, mut app) = Runner::start(driver, logbook, start, size)?;
    let theme = Theme::from_env();
    let mut terminal = ratatui::try_init()?;
    // ratatui's hook restores the screen on a panic; mouse reporting must be turned off too.
    let restore = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(io::stdout(), DisableMouseCapture);
        restore(info);
    }));
    let result = execute!(io::stdout(), EnableMouseCapture)
        .and_then(|()| event_loop(&mut terminal, &mut runner, &mut app, &theme));
    let _ = execute!(io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result?;
    Ok(runner.exit().clone())
}
