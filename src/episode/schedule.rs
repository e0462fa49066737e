//! The step as a schedule: the whole pipeline, in order, in one place.

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;

use super::systems::{
    billing, gatekeeper, intake, judge, patient, record, reward, route, termination,
};

/// The schedule one step runs: intake → route → patient → gatekeeper → billing → judge →
/// termination → reward → record. Single-threaded: the systems form one chain, and determinism never
/// depends on thread timing.
pub(crate) fn step_schedule() -> Schedule {
    let mut schedule = Schedule::default();
    schedule.set_executor(SingleThreadedExecutor::new());
    schedule.add_systems(
        (
            intake,
            route,
            patient,
            gatekeeper,
            billing,
            judge,
            termination,
            reward,
            record,
        )
            .chain(),
    );
    schedule
}
