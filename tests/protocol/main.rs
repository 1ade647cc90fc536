//! The core, below the device: bundles, PQXDH, the ratchet, sessions per peer device, the
//! limits, replay and tamper resistance, the known answers and the worked example of
//! docs/PROTOCOL.md, and the layers of docs/ARCHITECTURE.md. One test binary; each module
//! is one idea, over the two-party harness of `hemlis_test::party`.

mod accounts_wire;
mod basic;
mod bundle;
mod compromise;
mod kat;
mod layers;
mod limits;
mod pqxdh;
mod replay;
mod sessions;
mod tamper;
mod worked_example;
