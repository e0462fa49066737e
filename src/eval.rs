//! Batch evaluation (`dxsim eval`, `dxsim report`): agents × cases × patient biases × seeds, each
//! combination one episode, run concurrently; every finished episode is committed to the run's store
//! and appended to `episodes.jsonl`; reports summarise accuracy and cost.

pub mod agent;
pub mod plan;
pub mod record;
pub mod report;
pub mod results;
pub mod run;
