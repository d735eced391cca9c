//! PinShare's calls of the kubo CLI, argv for argv (`internal/psfs/ipfs_cmd.go` at Episk-pos/PinShare
//! ad69b697): it never passes `--api`, so the CLI finds the daemon through `$IPFS_PATH/api`. Output is read
//! from stdout only (Go's `cmd.Output()`); stderr is kept for the error text. The double uploads only; the
//! real app also runs `ipfs pin add CID` and `ipfs get CID -o PATH --progress=false` for files other peers
//! announce, and `ipfs pin rm CID` for banned ones (no peers here, so the double has no use for them).

use std::process::Command;

/// The argv of `AddFileIPFS`: `ipfs add --cid-version 1 --raw-leaves PATH -Q` (kubo pins on add by default).
pub fn add_argv(path: &str) -> Vec<String> {
    ["add", "--cid-version", "1", "--raw-leaves", path, "-Q"]
        .map(String::from)
        .to_vec()
}

/// Runs `ipfs ARGV`; the trimmed stdout, or `exit status N` plus the CLI's stderr.
pub fn run(argv: &[String]) -> Result<String, String> {
    let out = Command::new("ipfs")
        .args(argv)
        .output()
        .map_err(|e| format!("exec: \"ipfs\": {}", standin_common::goerr::reason(&e)))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let code = out
            .status
            .code()
            .map_or_else(|| "signal".to_string(), |c| c.to_string());
        Err(format!(
            "exit status {code}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Go's `exec.LookPath`: the first executable regular file named `name` in `$PATH`.
pub fn look_path(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // PinShare internal/psfs/ipfs_cmd.go (ad69b697): the exact argv of each call.
    #[test]
    fn add_argv_is_the_real_apps() {
        assert_eq!(
            add_argv("./upload/a.txt"),
            [
                "add",
                "--cid-version",
                "1",
                "--raw-leaves",
                "./upload/a.txt",
                "-Q"
            ]
        );
    }
}
