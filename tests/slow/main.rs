//! The long-running tests: random delivery schedules checked against the interaction model
//! of `hemlis_test::interaction` (also the `interaction` fuzz target), properties with
//! restarts from serialized state and from SQLite, and thousands of steps of injected
//! faults between three clients.

mod fault_injection;
mod properties;
mod schedules;
