//! Error text the way Go prints it (`*os.PathError`, syscall errno strings).

use std::path::Path;

/// Go's errno text: lower case, no "(os error N)".
pub fn reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "no such file or directory".into(),
        K::PermissionDenied => "permission denied".into(),
        K::AlreadyExists => "file exists".into(),
        K::AddrInUse => "address already in use".into(),
        K::ConnectionRefused => "connection refused".into(),
        K::TimedOut | K::WouldBlock => "i/o timeout".into(),
        _ => {
            let s = e.to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// `open identity.key: permission denied`.
pub fn path_error(op: &str, path: &Path, e: &std::io::Error) -> String {
    format!("{op} {}: {}", path.display(), reason(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn reads_like_go() {
        assert_eq!(
            path_error(
                "open",
                Path::new("/x"),
                &Error::from(ErrorKind::PermissionDenied)
            ),
            "open /x: permission denied"
        );
        assert_eq!(
            reason(&Error::from_raw_os_error(28)),
            "no space left on device"
        );
    }
}
