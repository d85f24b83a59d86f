//! End-to-end scenarios of the BitVM2 bridge toolkit.
//!
//! This root package exists to hold the regtest scenario tests in `tests/`; it exports nothing.
//! The libraries live in `crates/`: `bitvm2-harness` starts real bitcoind nodes, and the
//! protocol crates build and run the bridge on top of them.
