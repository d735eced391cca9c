//! Exec probe: a command inside the container exits 0.

use crate::engine::Engine;

pub(super) async fn check(
    engine: &dyn Engine,
    container: &str,
    argv: &[String],
) -> Result<(), String> {
    let out = engine
        .exec(container, argv)
        .await
        .map_err(|e| e.to_string())?;
    if out.code == 0 {
        Ok(())
    } else {
        let text = out.output.trim();
        let tail: String = text
            .lines()
            .last()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Err(format!(
            "`{}` exited with {}: {tail}",
            argv.join(" "),
            out.code
        ))
    }
}
