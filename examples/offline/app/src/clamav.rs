//! Doubles of ClamAV's `freshclam` and `clamscan`, as PinShare calls them (`internal/psfs/sec.go`):
//! `freshclam` once at start (its output printed, failure not fatal) and `clamscan --no-summary --quiet
//! ABS_PATH` per file (exit 0 clean, 1 infected). The app image holds this same binary under those names.
//!
//! freshclam is the slow part of PinShare's start (it downloads the signature database: minutes on a cold
//! start), so the double's freshclam waits `PS_STANDIN_START_DELAY` (default 2s) and /health answers only
//! after it.

/// The EICAR test signature (every antivirus flags it; clamscan reports `Eicar-Test-Signature`).
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// `freshclam`: "updates" the database by waiting the configured delay.
pub fn freshclam() -> ! {
    let delay = crate::config::start_delay();
    std::thread::sleep(delay);
    println!("ClamAV update process started (stand-in: waited {delay:?} in place of the download)");
    println!("daily.cld database is up-to-date (stand-in)");
    std::process::exit(0);
}

/// `clamscan [--no-summary] [--quiet] FILE...`: exit 1 when a file holds the EICAR signature, 2 when one
/// cannot be read, else 0.
pub fn clamscan(args: &[String]) -> ! {
    let quiet = args.iter().any(|a| a == "--quiet");
    let mut code = 0;
    for f in args.iter().filter(|a| !a.starts_with("--")) {
        match std::fs::read(f) {
            Ok(b) if b.windows(EICAR.len()).any(|w| w == EICAR) => {
                println!("{f}: Eicar-Test-Signature FOUND");
                code = 1;
            }
            Ok(_) => {
                if !quiet {
                    println!("{f}: OK");
                }
            }
            Err(e) => {
                eprintln!(
                    "ERROR: Can't access file {f}: {}",
                    standin_common::goerr::reason(&e)
                );
                code = 2;
            }
        }
    }
    std::process::exit(code);
}
