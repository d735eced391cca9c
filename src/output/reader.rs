//! The reader of stdout going away: a pipe or a socket whose reading end is closed (`up | head -5` after its
//! five lines) is noticed without a write, so a quiet run stops too.

use tokio_util::sync::CancellationToken;

/// Watches a stdout that is a pipe or a socket for its reader going away, which the kernel reports as an error
/// or a hang-up on the descriptor without any write: a quiet `up | head -5` must stop too, not only one that
/// prints. Looks every 250 ms whether the printer is `gone`, so the thread ends with it.
pub(crate) fn watch_reader(
    abandoned: CancellationToken,
    closed: CancellationToken,
    gone: CancellationToken,
) {
    use rustix::event::{PollFd, PollFlags, poll};
    use rustix::fs::FileType;
    use std::os::fd::AsFd;

    let stdout = std::io::stdout();
    let kind = rustix::fs::fstat(stdout.as_fd()).map(|st| FileType::from_raw_mode(st.st_mode));
    if !matches!(kind, Ok(FileType::Fifo | FileType::Socket)) {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("pinshare-dev-reader".into())
        .spawn(move || {
            let stdout = std::io::stdout();
            let every = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 250_000_000,
            };
            while !gone.is_cancelled() && !abandoned.is_cancelled() {
                // No events asked for: only an error or a hang-up (the reader's end closed) wakes it.
                let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
                if matches!(poll(&mut fds, Some(&every)), Ok(n) if n > 0)
                    && fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP)
                {
                    closed.cancel();
                    abandoned.cancel();
                }
            }
        });
}
