//! Log-line probe: ready once a line of the container's output matches a regular expression. Each attempt reads
//! the container's output so far, so the probe answers the same from `up` and from `ps` in another terminal.

use futures_util::StreamExt;

use crate::engine::{Engine, LogOptions};
use crate::output::lines::LineSplitter;

pub(super) async fn check(
    engine: &dyn Engine,
    container: &str,
    pattern: &str,
) -> Result<(), String> {
    let re = regex::Regex::new(pattern).map_err(|e| format!("bad pattern: {e}"))?;
    let opts = LogOptions {
        follow: false,
        tail: None,
        since: None,
        timestamps: false,
    };
    let mut stream = engine.logs(container, &opts);
    let (mut out, mut err) = (LineSplitter::default(), LineSplitter::default());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        let splitter = if chunk.stderr { &mut err } else { &mut out };
        if splitter.push(&chunk.bytes).iter().any(|l| re.is_match(l)) {
            return Ok(());
        }
    }
    if [out.finish(), err.finish()]
        .iter()
        .flatten()
        .any(|l| re.is_match(l))
    {
        return Ok(());
    }
    Err(format!("no output line matches `{pattern}` yet"))
}
