//! The `bitvm2` command as a library: the protocol's client side (setup coordinator,
//! depositor, side system: [`driver`]) and the regtest demo cluster ([`demo`]), which the
//! end-to-end tests in the root package drive with the `bitvm2` binary as the daemons.

pub mod demo;
pub mod driver;
