//! Small OS helpers shared by both stand-ins (the app includes this file with `#[path]`).

use std::io::Write;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Writes one whole line (text + '\n') to stdout with a single write.
pub fn log_line(line: &str) {
    let mut s = String::with_capacity(line.len() + 1);
    s.push_str(line);
    s.push('\n');
    let out = std::io::stdout();
    let mut lock = out.lock();
    let _ = lock.write_all(s.as_bytes());
    let _ = lock.flush();
}

/// Writes one whole line to stderr with a single write.
pub fn elog_line(line: &str) {
    let mut s = String::with_capacity(line.len() + 1);
    s.push_str(line);
    s.push('\n');
    let err = std::io::stderr();
    let mut lock = err.lock();
    let _ = lock.write_all(s.as_bytes());
}

static EXIT_MSG_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static EXIT_MSG_LEN: AtomicUsize = AtomicUsize::new(0);

extern "C" fn exit_handler(_sig: libc::c_int) {
    let p = EXIT_MSG_PTR.load(Ordering::SeqCst);
    let n = EXIT_MSG_LEN.load(Ordering::SeqCst);
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the message is 'static.
    unsafe {
        if !p.is_null() && n > 0 {
            libc::write(1, p as *const libc::c_void, n);
        }
        libc::_exit(0);
    }
}

/// Installs real handlers for SIGTERM and SIGINT that print `msg` (a whole line,
/// including '\n') and exit 0 at once. A real handler (not SIG_DFL) is needed so
/// the signals are delivered when the process is PID 1 of a container.
pub fn exit_on_term_signals(msg: &'static str) {
    EXIT_MSG_PTR.store(msg.as_ptr() as *mut u8, Ordering::SeqCst);
    EXIT_MSG_LEN.store(msg.len(), Ordering::SeqCst);
    // SAFETY: plain sigaction(2) with a handler that only calls async-signal-safe functions.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = exit_handler as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}

/// Whether the process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Fills `buf` with random bytes (getrandom(2)); falls back to a time/pid mix.
pub fn random_bytes(buf: &mut [u8]) {
    let mut filled = 0usize;
    while filled < buf.len() {
        // SAFETY: the pointer/length pair describes the unfilled tail of `buf`.
        let n = unsafe {
            libc::getrandom(
                buf[filled..].as_mut_ptr() as *mut libc::c_void,
                buf.len() - filled,
                0,
            )
        };
        if n <= 0 {
            break;
        }
        filled += n as usize;
    }
    if filled < buf.len() {
        // Fallback: xorshift seeded from time and pid.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut x = t ^ ((std::process::id() as u64) << 32) ^ 0x9E37_79B9_7F4A_7C15;
        for b in buf[filled..].iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
    }
}

/// Formats an io::Error the way Go prints an *os.PathError: `<op> <path>: <reason>`.
pub fn go_path_err(op: &str, path: &std::path::Path, e: &std::io::Error) -> String {
    format!("{op} {}: {}", path.display(), go_reason(e))
}

/// Go-style lowercase reason text for an io::Error ("permission denied", ...).
pub fn go_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        PermissionDenied => "permission denied".into(),
        NotFound => "no such file or directory".into(),
        AlreadyExists => "file exists".into(),
        ConnectionRefused => "connection refused".into(),
        AddrInUse => "address already in use".into(),
        TimedOut | WouldBlock => "i/o timeout".into(),
        _ => {
            let s = e.to_string();
            let s = match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            };
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
                None => s,
            }
        }
    }
}

static UNLINK_PATH: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn shutdown_handler(_sig: libc::c_int) {
    let p = EXIT_MSG_PTR.load(Ordering::SeqCst);
    let n = EXIT_MSG_LEN.load(Ordering::SeqCst);
    let u = UNLINK_PATH.load(Ordering::SeqCst);
    // SAFETY: write(2), unlink(2) and _exit(2) are async-signal-safe; both buffers are leaked.
    unsafe {
        if !p.is_null() && n > 0 {
            libc::write(1, p as *const libc::c_void, n);
        }
        if !u.is_null() {
            libc::unlink(u);
        }
        libc::_exit(0);
    }
}

/// The daemon's SIGHUP/SIGINT/SIGTERM: print `msg`, remove `unlink` (the repo's `api` file, as fsrepo's
/// Close does on a clean shutdown) and exit 0.
pub fn on_term_signals(msg: &'static str, unlink: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    EXIT_MSG_PTR.store(msg.as_ptr() as *mut u8, Ordering::SeqCst);
    EXIT_MSG_LEN.store(msg.len(), Ordering::SeqCst);
    if let Ok(c) = std::ffi::CString::new(unlink.as_os_str().as_bytes()) {
        UNLINK_PATH.store(c.into_raw(), Ordering::SeqCst);
    }
    // SAFETY: plain sigaction(2) with a handler that only calls async-signal-safe functions.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = shutdown_handler as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGHUP, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}
