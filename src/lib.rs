//! pinshare-dev: runs kubo and PinShare as separate containers, started in order of real readiness.
//!
//! Concept → file: `spec` (pinshare.toml), `engine` (Docker), `reconcile` (plan what to change, apply it), `up` (start-up and
//! shutdown), `init_step` (one-shot steps), `kubo_prep` (the kubo repo through the image's entrypoint), `probe` (readiness), `context` + `dockerignore`
//! (build contexts), `printer` (the one terminal writer), `logs`, `ps`, `down`, `cli`.

pub mod cli;
pub mod container;
pub mod context;
pub mod dev;
pub mod dockerignore;
pub mod doctor;
pub mod down;
pub mod embedded;
pub mod engine;
pub mod error;
pub mod follow;
pub mod image;
pub mod init_step;
pub mod kubo_prep;
pub mod labels;
pub mod lock;
pub mod logs;
pub mod port_owner;
pub mod printer;
pub mod probe;
pub mod ps;
pub mod ready;
pub mod rebuild;
pub mod reconcile;
pub mod redact;
pub mod render;
#[cfg(test)]
mod run_tests;
pub mod spec;
pub mod supervise;
pub mod tasks;
pub mod up;
pub mod watch;
