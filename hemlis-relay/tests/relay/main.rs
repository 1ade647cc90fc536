//! The TCP relay with real processes: clients and a relay exchanging messages over
//! 127.0.0.1, malformed frames, clients killed at random instants (`crash`), and the load
//! test (`load`, ignored by default). Tests that run this binary again as a child process
//! name the child by its full path (`crash::crash_child`, `tcp::child_alice`,
//! `load::load_child`).

mod crash;
mod load;
mod tcp;
