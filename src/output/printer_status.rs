//! The printer's live lines ([`Printer::status`]): a handle that says where a piece of work is, and takes its line
//! away when dropped.

use super::{Msg, Printer};

/// A live line; dropping it takes the line away.
pub struct Status {
    pub(super) printer: Printer,
    pub(super) id: u64,
    pub(super) name: String,
}

impl Status {
    /// Says where the work is now.
    pub fn set(&self, text: &str) {
        let text = self.printer.settings.secrets.outgoing(text).into_owned();
        self.printer.send_now(Msg::Status {
            id: self.id,
            name: self.name.clone(),
            text: Some(text),
        });
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        self.printer.send_now(Msg::Status {
            id: self.id,
            name: String::new(),
            text: None,
        });
    }
}
