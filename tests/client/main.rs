//! The device and its drivers (docs/ARCHITECTURE.md, sections 3 to 7): the sans-IO device
//! by hand and under the async driver, faults of the transport and the store, what the
//! relay learns, the SQLite store, prekey upkeep and trust. One test binary over the
//! client harness of `hemlis_test` (recording RNG, test clock, faulty stores and
//! transports).

mod accounts;
mod device;
mod faults;
mod relay_log;
mod smoke;
mod sqlite;
mod upkeep;
