//! `completions bash` prints a script that, sourced into a real bash and called the way bash calls it
//! (`COMP_WORDS`, `COMP_CWORD`, then the function `complete -p` names), completes subcommands, their options and
//! the service names of the spec in use — read at completion time, with `-f PATH` or from the current directory.

use std::path::Path;
use std::process::Command;

const SPEC: &str = "[services.kubo-node]\nimage = \"ipfs/kubo:v0.42.0\"\n\n[services.webapp]\nimage = \"x\"\ndepends_on = [\"kubo-node\"]\n";

/// What bash completes for the words (the last one is the word being completed), run in `cwd`.
fn complete(cwd: &Path, words: &[&str]) -> Vec<String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_pinshare-dev"));
    let script = Command::new(bin)
        .args(["completions", "bash"])
        .output()
        .expect("the binary runs");
    assert!(script.status.success(), "{script:?}");
    let file = cwd.join("pinshare-dev.bash");
    std::fs::write(&file, &script.stdout).expect("write the script");
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect();
    let program = format!(
        r#"source {script}
fn=$(complete -p pinshare-dev | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$fn" pinshare-dev "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        script = file.display(),
        words = quoted.join(" ")
    );
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(program)
        .current_dir(cwd)
        .env("PATH", path)
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pinshare.toml"), SPEC).expect("write spec");
    dir
}

#[test]
fn bash_completes_the_subcommands_but_not_the_hidden_one() {
    let dir = project();
    let words = complete(dir.path(), &["pinshare-dev", ""]);
    for sub in [
        "up",
        "down",
        "logs",
        "ps",
        "stats",
        "completions",
        "render",
        "rebuild",
    ] {
        assert!(words.iter().any(|w| w == sub), "{sub} in {words:?}");
    }
    assert!(!words.iter().any(|w| w.contains("__complete")), "{words:?}");
    assert_eq!(
        complete(dir.path(), &["pinshare-dev", "com"]),
        ["completions"]
    );
}

#[test]
fn bash_completes_a_subcommands_options() {
    let dir = project();
    assert_eq!(
        complete(dir.path(), &["pinshare-dev", "up", "--"]),
        // `-f/--file` is accepted after the subcommand too.
        ["--file", "--detach", "--no-watch", "--help"]
    );
    let shells = complete(dir.path(), &["pinshare-dev", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(shells.iter().any(|w| w == shell), "{shell} in {shells:?}");
    }
}

#[test]
fn bash_completes_service_names_from_the_spec_here_or_given_with_f() {
    let dir = project();
    assert_eq!(
        complete(dir.path(), &["pinshare-dev", "up", ""]),
        ["kubo-node", "webapp"]
    );
    assert_eq!(
        complete(dir.path(), &["pinshare-dev", "logs", "-f", "w"]),
        ["webapp"]
    );
    assert_eq!(
        complete(dir.path(), &["pinshare-dev", "stats", "--no-stream", "k"]),
        ["kubo-node"]
    );
    // rebuild takes one service.
    assert_eq!(
        complete(dir.path(), &["pinshare-dev", "rebuild", "webapp", ""]),
        Vec::<String>::new()
    );
    // From elsewhere, with -f before the subcommand.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("pinshare.toml");
    let spec = spec.to_str().expect("utf-8 path");
    assert_eq!(
        complete(elsewhere.path(), &["pinshare-dev", "-f", spec, "up", ""]),
        ["kubo-node", "webapp"]
    );
    // No spec: no service names, and no error text in the completion.
    assert_eq!(
        complete(elsewhere.path(), &["pinshare-dev", "up", ""]),
        Vec::<String>::new()
    );
}

#[test]
fn no_shell_offers_the_hidden_helper() {
    let offers = [
        ("zsh", "'__complete-services:"),
        ("fish", "-a \"__complete-services\""),
        ("elvish", "cand __complete-services"),
        (
            "powershell",
            "[CompletionResult]::new('__complete-services'",
        ),
        // bash: the word in the top-level `opts` list, between `completions` and `watch`.
        ("bash", "__complete-services watch"),
    ];
    for (shell, offer) in offers {
        let out = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .args(["completions", shell])
            .output()
            .expect("the binary runs");
        let text = String::from_utf8_lossy(&out.stdout);
        // The subcommands are offered the same way, so the pattern is the right one.
        assert!(
            text.contains(&offer.replace("__complete-services", "completions")),
            "{shell}: {text}"
        );
        assert!(!text.contains(offer), "{shell} offers the helper: {text}");
    }
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .args(["completions", shell])
            .output()
            .expect("the binary runs");
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("pinshare-dev"), "{shell}: {text}");
        assert!(text.contains("completions"), "{shell}: {text}");
    }
}
