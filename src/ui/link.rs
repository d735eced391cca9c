//! Where `pinshare-dev ui` finds a running dashboard: the foreground `up` writes its URL to
//! `pinshare-dev-<project>.ui` next to the project's lock file (the runtime directory) and removes it when the
//! run ends. The file is believed only while the lock is held, so the file of a killed `up` says nothing.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The file holding the URL of the project's dashboard.
pub fn path_for(project: &str) -> PathBuf {
    crate::run::lock::path_for(project).with_extension("ui")
}

/// The URL file of a running dashboard; removed on drop.
#[derive(Debug)]
pub struct UrlFile(PathBuf);

impl Drop for UrlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `url` as the project's dashboard (the caller holds the project's lock).
pub fn write(project: &str, url: &str) -> Result<UrlFile> {
    let path = path_for(project);
    std::fs::write(&path, format!("{url}\n"))
        .map_err(|e| Error::Runtime(format!("writing {}: {e}", path.display())))?;
    Ok(UrlFile(path))
}

/// The URL of the dashboard of the project's running `up`, if one serves it.
pub fn running(project: &str) -> Option<String> {
    crate::run::lock::holder(project)?;
    let text = std::fs::read_to_string(path_for(project)).ok()?;
    let url = text.trim();
    url.starts_with("http://127.0.0.1:")
        .then(|| url.to_string())
}

/// `pinshare-dev ui`: prints the URL of the running dashboard and, with `open`, opens it in the browser.
pub fn ui_command(project: &str, open: bool, out: &crate::output::printer::Printer) -> Result<u8> {
    let Some(url) = running(project) else {
        return Err(Error::Runtime(format!(
            "no foreground `up` of project {project} serves a dashboard (start one with `pinshare-dev up`, without --no-ui)"
        )));
    };
    out.block(&url);
    if open {
        std::process::Command::new("xdg-open")
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                Error::Runtime(format!("opening {url} with xdg-open: {e}; open it by hand"))
            })?;
    }
    Ok(crate::error::EXIT_OK)
}
