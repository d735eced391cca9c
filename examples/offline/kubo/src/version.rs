//! Which kubo release the double stands in for. The image selects it at build time
//! (`ARG KUBO_VERSION` copies `kubo/versions/<v>` to [`VERSION_FILE`]); the same binary serves both.
//! Every behaviour that differs between the supported tags asks this module.

use std::sync::OnceLock;

/// Where the image puts the selected version (one line, e.g. `0.42.0`).
pub const VERSION_FILE: &str = "/usr/local/share/kubo-standin/version";
/// The version a binary reports when no version file is installed: the shipped one.
pub const DEFAULT: Kubo = Kubo::V0_42_0;

/// A supported kubo release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kubo {
    V0_39_0,
    V0_42_0,
}

impl Kubo {
    pub fn parse(s: &str) -> Result<Kubo, String> {
        match s.trim().trim_start_matches('v') {
            "0.39.0" => Ok(Kubo::V0_39_0),
            "0.42.0" => Ok(Kubo::V0_42_0),
            other => Err(format!(
                "kubo stand-in: unsupported kubo version {other:?} (supported: 0.39.0, 0.42.0)"
            )),
        }
    }

    /// `version.go` CurrentVersionNumber.
    pub fn number(self) -> &'static str {
        match self {
            Kubo::V0_39_0 => "0.39.0",
            Kubo::V0_42_0 => "0.42.0",
        }
    }

    /// `go.mod` go directive of the tag (what `ipfs version --all` / the daemon banner print).
    pub fn golang(self) -> &'static str {
        match self {
            Kubo::V0_39_0 => "go1.25.4",
            Kubo::V0_42_0 => "go1.26.4",
        }
    }

    /// kubo v0.42.0 core/commands/diag.go: `diag healthy` is a subcommand from 0.42 on.
    pub fn has_diag_healthy(self) -> bool {
        self == Kubo::V0_42_0
    }

    /// `config/profile.go` Profiles: the names `ipfs init --profile` accepts at this tag.
    pub fn profiles(self) -> &'static [&'static str] {
        const COMMON: [&str; 15] = [
            "server",
            "local-discovery",
            "test",
            "default-networking",
            "default-datastore",
            "flatfs",
            "flatfs-measure",
            "pebbleds",
            "pebbleds-measure",
            "badgerds",
            "badgerds-measure",
            "lowpower",
            "announce-off",
            "announce-on",
            "randomports",
        ];
        static V39: OnceLock<Vec<&'static str>> = OnceLock::new();
        static V42: OnceLock<Vec<&'static str>> = OnceLock::new();
        match self {
            Kubo::V0_39_0 => V39.get_or_init(|| {
                let mut v = COMMON.to_vec();
                v.extend([
                    "legacy-cid-v0",
                    "test-cid-v1",
                    "test-cid-v1-wide",
                    "autoconf-on",
                    "autoconf-off",
                ]);
                v
            }),
            Kubo::V0_42_0 => V42.get_or_init(|| {
                let mut v = COMMON.to_vec();
                v.extend([
                    "unixfs-v0-2015",
                    "legacy-cid-v0",
                    "unixfs-v1-2025",
                    "autoconf-on",
                    "autoconf-off",
                ]);
                v
            }),
        }
    }

    /// `config/profile.go` defaultServerFilters (0.42 added loopback and `::/3`).
    pub fn server_filters(self) -> Vec<&'static str> {
        let mut v = vec!["/ip4/10.0.0.0/ipcidr/8", "/ip4/100.64.0.0/ipcidr/10"];
        if self == Kubo::V0_42_0 {
            v.push("/ip4/127.0.0.0/ipcidr/8");
        }
        v.extend([
            "/ip4/169.254.0.0/ipcidr/16",
            "/ip4/172.16.0.0/ipcidr/12",
            "/ip4/192.0.0.0/ipcidr/24",
            "/ip4/192.0.2.0/ipcidr/24",
            "/ip4/192.168.0.0/ipcidr/16",
            "/ip4/198.18.0.0/ipcidr/15",
            "/ip4/198.51.100.0/ipcidr/24",
            "/ip4/203.0.113.0/ipcidr/24",
            "/ip4/240.0.0.0/ipcidr/4",
        ]);
        if self == Kubo::V0_42_0 {
            v.extend(["/ip6/::/ipcidr/3", "/ip6/::1/ipcidr/128"]);
        }
        v.extend([
            "/ip6/100::/ipcidr/64",
            "/ip6/2001:2::/ipcidr/48",
            "/ip6/2001:db8::/ipcidr/32",
            "/ip6/fc00::/ipcidr/7",
            "/ip6/fe80::/ipcidr/10",
        ]);
        v
    }

    /// Keys `config.CheckKey` accepts at this tag (generated from `config/*.go`).
    pub fn config_keys(self) -> &'static str {
        match self {
            Kubo::V0_39_0 => include_str!("config_keys/v0.39.0.txt"),
            Kubo::V0_42_0 => include_str!("config_keys/v0.42.0.txt"),
        }
    }
}

/// The version this process stands in for: [`VERSION_FILE`] when present, else [`DEFAULT`].
/// An unreadable or unknown version is fatal: a double that guesses would hide the mistake.
pub fn current() -> Kubo {
    static CURRENT: OnceLock<Kubo> = OnceLock::new();
    *CURRENT.get_or_init(|| match std::fs::read_to_string(VERSION_FILE) {
        Ok(s) => Kubo::parse(&s).unwrap_or_else(|e| {
            crate::sys::elog_line(&format!("Error: {e} (from {VERSION_FILE})"));
            std::process::exit(1)
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DEFAULT,
        Err(e) => {
            crate::sys::elog_line(&format!("Error: reading {VERSION_FILE}: {e}"));
            std::process::exit(1)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_tags_are_known() {
        assert_eq!(Kubo::parse("0.42.0"), Ok(Kubo::V0_42_0));
        assert_eq!(Kubo::parse("v0.39.0\n"), Ok(Kubo::V0_39_0));
        assert!(Kubo::parse("0.40.0").unwrap_err().contains("unsupported"));
    }

    // kubo v0.42.0 core/commands/diag.go: "healthy" in DiagCmd.Subcommands; v0.39.0 diag.go: not there.
    #[test]
    fn diag_healthy_only_from_0_42() {
        assert!(Kubo::V0_42_0.has_diag_healthy());
        assert!(!Kubo::V0_39_0.has_diag_healthy());
    }
}
