//! A service's image made available: pulled, or built (its host build first), or found up to date, and the
//! older builds pruned.

use std::fmt;
use std::time::Duration;

use super::{Event, ms, short};

/// An image pulled or built, its host build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// The host build starts: its command, as written (words joined by spaces).
    HostBuild(String),
    /// A line the host build printed.
    HostBuildOutput(String),
    /// The host build is done, after so long.
    HostBuildDone(Duration),
    /// The image (reference) is pulled, not being here.
    Pulling(String),
    /// A pull's progress: a layer's state changed (or the image's, without a layer).
    PullProgress {
        /// The layer (short id), or `None` for the image as a whole.
        layer: Option<String>,
        /// `Pulling fs layer`, `Downloading`, `Extracting`, `Pull complete`, `Already exists`, …
        status: String,
        /// Bytes so far and in all, while downloading or extracting.
        bytes: Option<(u64, u64)>,
    },
    /// The image was pulled, in so long.
    Pulled {
        /// The reference pulled.
        reference: String,
        /// From the start of the pull.
        after: Duration,
    },
    /// The image (tag) was built from what it reads now: not built again.
    UpToDate(String),
    /// The image build starts, from a packed context.
    Building {
        /// The image's tag.
        tag: String,
        /// Files in the context.
        files: usize,
        /// The context tar's size.
        bytes: usize,
    },
    /// A line of the builder's.
    BuildOutput(String),
    /// The image was built, in so long.
    Built {
        /// The image's tag.
        tag: String,
        /// From the start of the build (after the host build, if any).
        after: Duration,
    },
    /// After a rebuild: older images of the service removed; one kept for a rollback.
    Pruned {
        /// How many were removed.
        removed: usize,
        /// The service.
        service: String,
        /// The image id kept (the line shows 12 digits).
        kept: String,
    },
}

impl From<Image> for Event {
    fn from(e: Image) -> Self {
        Event::Image(e)
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Image::HostBuild(command) => write!(f, "host build: {command}"),
            Image::HostBuildOutput(l) => write!(f, "host build: {l}"),
            Image::HostBuildDone(after) => write!(f, "host build done in {} ms", ms(*after)),
            Image::Pulling(reference) => write!(f, "pulling {reference}"),
            Image::PullProgress {
                layer,
                status,
                bytes,
            } => match (layer, bytes) {
                (Some(id), Some((cur, total))) if *total > 0 => {
                    write!(f, "{id}: {status} {}%", cur * 100 / total)
                }
                (Some(id), _) => write!(f, "{id}: {status}"),
                (None, _) => f.write_str(status),
            },
            Image::Pulled { reference, after } => {
                write!(f, "pulled {reference} in {} ms", ms(*after))
            }
            Image::UpToDate(tag) => write!(f, "image {tag} up to date"),
            Image::Building { tag, files, bytes } => write!(
                f,
                "building {tag} ({files} files, {} KiB context)",
                bytes / 1024
            ),
            Image::BuildOutput(l) => write!(f, "build: {l}"),
            Image::Built { tag, after } => write!(f, "built {tag} in {} ms", ms(*after)),
            Image::Pruned {
                removed,
                service,
                kept,
            } => write!(
                f,
                "removed {removed} older image(s) of {service}; kept build {} for a rollback",
                short(kept)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::event::tests::reads;

    #[test]
    fn image_lines_read_as_they_always_did() {
        reads(
            Image::HostBuild("go build -o bin/app .".into()),
            "host build: go build -o bin/app .",
        );
        reads(
            Image::HostBuildOutput("ok  example.com/app".into()),
            "host build: ok  example.com/app",
        );
        reads(
            Image::HostBuildDone(Duration::from_millis(1234)),
            "host build done in 1234 ms",
        );
        reads(
            Image::Pulling("ipfs/kubo:v0.32.1".into()),
            "pulling ipfs/kubo:v0.32.1",
        );
        let progress = |layer: Option<&str>, status: &str, bytes| Image::PullProgress {
            layer: layer.map(Into::into),
            status: status.into(),
            bytes,
        };
        reads(
            progress(Some("3f4ca61aafcd"), "Downloading", Some((42, 100))),
            "3f4ca61aafcd: Downloading 42%",
        );
        reads(
            progress(Some("3f4ca61aafcd"), "Downloading", Some((0, 0))),
            "3f4ca61aafcd: Downloading",
        );
        reads(
            progress(Some("3f4ca61aafcd"), "Pull complete", None),
            "3f4ca61aafcd: Pull complete",
        );
        reads(
            progress(None, "Status: Downloaded newer image", None),
            "Status: Downloaded newer image",
        );
        reads(
            Image::Pulled {
                reference: "redis:7".into(),
                after: Duration::from_millis(2500),
            },
            "pulled redis:7 in 2500 ms",
        );
        reads(
            Image::UpToDate("pinshare:dev".into()),
            "image pinshare:dev up to date",
        );
        reads(
            Image::Building {
                tag: "pinshare:dev".into(),
                files: 12,
                bytes: 5000,
            },
            "building pinshare:dev (12 files, 4 KiB context)",
        );
        reads(
            Image::BuildOutput("Step 6/13 : COPY . /src".into()),
            "build: Step 6/13 : COPY . /src",
        );
        reads(
            Image::Built {
                tag: "pinshare:dev".into(),
                after: Duration::from_millis(900),
            },
            "built pinshare:dev in 900 ms",
        );
        reads(
            Image::Pruned {
                removed: 2,
                service: "app".into(),
                kept: "sha256:0123456789abcdef".into(),
            },
            "removed 2 older image(s) of app; kept build 0123456789ab for a rollback",
        );
    }
}
