//! The daemon's OS edges: log lines, random bytes, and the signals that stop it.

use std::path::Path;

pub use standin_common::lines::{err as elog_line, out as log_line};

/// Fills `buf` from the OS's random source; like Go's crypto/rand, a failure is fatal.
pub fn random_bytes(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        elog_line(&format!("Error: reading random bytes: {e}"));
        std::process::exit(1);
    }
}

/// The daemon's SIGHUP/SIGINT/SIGTERM: print `msg`, remove `unlink` (the repo's `api` file, as
/// fsrepo's Close does on a clean shutdown) and exit 0. The handlers are real ones (not SIG_DFL),
/// so the signals reach the daemon even as PID 1 of a container.
pub fn on_term_signals(msg: &'static str, unlink: &Path) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            elog_line(&format!("Error: setting up the signal handlers: {e}"));
            std::process::exit(1);
        }
    };
    let unlink = unlink.to_path_buf();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(msg.as_bytes());
            let _ = out.flush();
            let _ = std::fs::remove_file(&unlink);
            std::process::exit(0);
        }
    });
}
