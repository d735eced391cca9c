//! pinshare-dev: runs kubo and PinShare as separate containers, started in order of real readiness.
//!
//! One folder per concept; the book's Architecture chapter (docs/src/architecture.md) and DESIGN.md say how
//! they fit. Only `cli` is public (the binary needs it); everything else is `pub(crate)`, so dead code warns.

pub mod cli;
pub(crate) mod commands;
pub(crate) mod container;
pub(crate) mod doctor;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod image;
pub(crate) mod init;
pub(crate) mod labels;
pub(crate) mod output;
pub(crate) mod probe;
pub(crate) mod reconcile;
pub(crate) mod render;
pub(crate) mod run;
pub(crate) mod spec;
pub(crate) mod ui;
pub(crate) mod usage;
pub(crate) mod watch;
