//! The environment PinShare reads (`internal/config/config.go` `LoadConfig`, `internal/api/main_api.go` for
//! API_PORT, `internal/app/app.go` for IPFS_API), plus the double's own knobs (each marked double-only).

use std::time::Duration;

/// PinShare's configuration, with its defaults. Paths are relative: they resolve against the working
/// directory, which the image sets to the data volume.
#[derive(Debug, Clone)]
pub struct Config {
    /// `IPFS_API`: when set (non-empty), the start check POSTs `$IPFS_API/api/v0/version`; when unset it
    /// dials `localhost:5001` instead (app.go).
    pub ipfs_api: Option<String>,
    /// `API_PORT` as given (parsed when the API starts, as main_api.go does; default 9090).
    pub api_port: Option<String>,
    /// `PS_LIBP2P_PORT` (default 50001).
    pub libp2p_port: u16,
    pub upload_folder: String,
    pub cache_folder: String,
    pub reject_folder: String,
    pub metadata_file: String,
    pub identity_key_file: String,
    /// `PS_DATABASE_FILE` (default `pinshare.db`).
    pub database_file: String,
    /// `PS_ENCRYPTION_KEY`: must be 32 bytes when set.
    pub encryption_key: String,
    /// `PS_MAX_CONCURRENT_JOBS` (default 3).
    pub max_concurrent_jobs: i64,
    /// `PS_FF_MOVE_UPLOAD`: move added files to the cache folder, rejected ones to the reject folder.
    pub ff_move_upload: bool,
    /// Double-only: where the build's version is read from (`/version`).
    pub version_file: String,
}

/// Why `LoadConfig` failed: PinShare ignores this error and dereferences a nil config (a panic).
#[derive(Debug)]
pub struct ConfigError(pub String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Go's `strconv.ParseBool`.
fn parse_bool(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(ConfigError(format!(
            "strconv.ParseBool: parsing {v:?}: invalid syntax ({name})"
        ))),
    }
}

/// Go's `strconv.ParseInt(v, 0, 64)` for the decimal and 0x forms.
fn parse_int(name: &str, v: &str) -> Result<i64, ConfigError> {
    let parsed = if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16)
    } else {
        v.parse::<i64>()
    };
    parsed.map_err(|_| {
        ConfigError(format!(
            "strconv.ParseInt: parsing {v:?}: invalid syntax ({name})"
        ))
    })
}

impl Config {
    /// Reads the environment as `LoadConfig` does (a variable that is set but empty counts as set).
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut c = Config {
            ipfs_api: var("IPFS_API").filter(|v| !v.is_empty()),
            api_port: var("API_PORT").filter(|v| !v.is_empty()),
            libp2p_port: 50001,
            upload_folder: "./upload".into(),
            cache_folder: "./cache".into(),
            reject_folder: "./rejected".into(),
            metadata_file: "metadata.json".into(),
            identity_key_file: "identity.key".into(),
            database_file: "pinshare.db".into(),
            encryption_key: var("PS_ENCRYPTION_KEY").unwrap_or_default(),
            max_concurrent_jobs: 3,
            ff_move_upload: false,
            version_file: var("VERSION_FILE")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "/opt/pinshare/VERSION".into()),
        };
        if let Some(v) = var("PS_LIBP2P_PORT") {
            let n = parse_int("PS_LIBP2P_PORT", &v)?;
            c.libp2p_port = u16::try_from(n)
                .map_err(|_| ConfigError(format!("PS_LIBP2P_PORT {n} out of range")))?;
        }
        if let Some(v) = var("PS_FF_MOVE_UPLOAD") {
            c.ff_move_upload = parse_bool("PS_FF_MOVE_UPLOAD", &v)?;
        }
        if let Some(v) = var("PS_DATABASE_FILE") {
            c.database_file = v;
        }
        if let Some(v) = var("PS_MAX_CONCURRENT_JOBS") {
            c.max_concurrent_jobs = parse_int("PS_MAX_CONCURRENT_JOBS", &v)?;
        }
        Ok(c)
    }

    /// The API port, or the message `log.Fatalf` prints for a bad `API_PORT`.
    pub fn api_port(&self) -> Result<u16, String> {
        match &self.api_port {
            None => Ok(9090),
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("strconv.Atoi: parsing {p:?}: invalid syntax")),
        }
    }
}

/// Double-only: `PS_STANDIN_START_DELAY` (default 2s), how long the freshclam double takes. It stands in for
/// the real start's slow part: freshclam downloading the virus database (minutes on a cold start).
pub fn start_delay() -> Duration {
    var("PS_STANDIN_START_DELAY")
        .and_then(|v| parse_duration(&v))
        .unwrap_or(Duration::from_secs(2))
}

/// `500ms`, `2s`, `3m`, or a bare number of seconds.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (num, unit) = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((v, "s"), |i| (&v[..i], &v[i..]));
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_the_spec_writes_them() {
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("3m"), Some(Duration::from_secs(180)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("soon"), None);
    }

    // PinShare internal/config/config.go: strconv.ParseInt(val, 0, 64) and strconv.ParseBool.
    #[test]
    fn numbers_and_flags_parse_as_go_does() {
        assert_eq!(parse_int("X", "50002").ok(), Some(50002));
        assert_eq!(parse_int("X", "0x10").ok(), Some(16));
        assert!(parse_int("X", "5000one").is_err());
        assert_eq!(parse_bool("X", "T").ok(), Some(true));
        assert!(parse_bool("X", "yes").is_err());
    }
}
