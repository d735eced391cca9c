//! Everything that reaches the terminal: the one writer, and secret values taken out of every line.

pub(crate) mod colours;
pub(crate) mod event;
pub(crate) mod lines;
pub(crate) mod printer;
pub(crate) mod reader;
pub(crate) mod redact;
pub(crate) mod status;
pub(crate) mod tap;
