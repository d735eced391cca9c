//! The commands other than `up` (which is the run loop, `run/`): each loads what it needs, calls the core
//! and prints through the printer.

pub(crate) mod completions;
pub(crate) mod docs;
pub(crate) mod down;
pub(crate) mod exec;
pub(crate) mod init;
pub(crate) mod logs;
pub(crate) mod ps;
pub(crate) mod rebuild;
pub(crate) mod run;
pub(crate) mod stand_in;
pub(crate) mod stats;
pub(crate) mod steer;
pub(crate) mod test;
pub(crate) mod up;
