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
        [
            "--file",
            "--detach",
            "--no-watch",
            "--manual",
            "--ui-port",
            "--no-ui",
            "--help"
        ]
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
    // The steering commands take one service each.
    for steer in ["restart", "stop", "start", "trigger"] {
        assert_eq!(
            complete(dir.path(), &["pinshare-dev", steer, "w"]),
            ["webapp"],
            "{steer}"
        );
        assert_eq!(
            complete(dir.path(), &["pinshare-dev", steer, "webapp", ""]),
            Vec::<String>::new(),
            "{steer}"
        );
    }
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
    // How each shell offers a subcommand NAME; bash: the word in the top-level `opts` list, before `watch`.
    let offers = [
        ("zsh", "'NAME:"),
        ("fish", "-a \"NAME\""),
        ("elvish", "cand NAME"),
        ("powershell", "[CompletionResult]::new('NAME'"),
        ("bash", "NAME watch"),
    ];
    for (shell, offer) in offers {
        let out = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .args(["completions", shell])
            .output()
            .expect("the binary runs");
        let text = String::from_utf8_lossy(&out.stdout);
        // The subcommands are offered the same way, so the pattern is the right one.
        assert!(
            text.contains(&offer.replace("NAME", "completions")),
            "{shell}: {text}"
        );
        // The helpers: the scripts' own, and the book's generated pages.
        for helper in ["__complete-services", "__docs"] {
            let offer = offer.replace("NAME", helper);
            assert!(!text.contains(&offer), "{shell} offers {helper}: {text}");
        }
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

/// The issue's project: kubo as `ipfs`, PinShare as `pinshare`.
const IPFS_PINSHARE: &str = "[services.ipfs]\nimage = \"ipfs/kubo:v0.42.0\"\n\n[services.pinshare]\nimage = \"x\"\ndepends_on = [\"ipfs\"]\n";

/// PATH with the binary under test first, as the scripts call `pinshare-dev` by name.
fn path_with_bin() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_pinshare-dev"));
    format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn script_for(shell: &str, dir: &Path) -> std::path::PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .args(["completions", shell])
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{out:?}");
    let file = dir.join(format!("completion.{shell}"));
    std::fs::write(&file, &out.stdout).expect("write the script");
    file
}

/// What an interactive zsh (`zsh -f`, compinit) offers on TAB after `line`, run in `cwd`: a zpty drives the
/// shell, and `compadd` is wrapped to write every candidate it is given to a file.
fn zsh_offers(cwd: &Path, line: &str) -> Vec<String> {
    let script = script_for("zsh", cwd);
    let hits = cwd.join("zsh-hits");
    let _ = std::fs::remove_file(&hits);
    let driver = r#"zmodload zsh/zpty
script=$1 out=$2 line=$3
zpty z zsh -f -i
zpty -w z "PS1='% '; autoload -Uz compinit; compinit -u -D; source ${(q)script}"
zpty -w z 'compadd() { local -a __hits; builtin compadd -A __hits "$@"; local r=$?; (( $#__hits )) && print -rl -- $__hits >> '${(q)out}'; builtin compadd "$@"; return r; }'
zpty -w -n z "$line"$'\t'
# Input typed while completing cancels it: wait for the candidates (or 10 s) before leaving.
for i in {1..100}; do [[ -s $out ]] && break; sleep 0.1; done
zpty -w z $'\C-u''exit'
while zpty -r z chunk; do :; done
"#;
    let out = Command::new("timeout")
        .args(["30", "zsh", "-f", "-c", driver, "zsh"])
        .arg(&script)
        .arg(&hits)
        .arg(line)
        .current_dir(cwd)
        .env("PATH", path_with_bin())
        .output()
        .expect("zsh runs (the CI installs it: .ci/run)");
    assert!(out.status.success(), "{out:?}");
    let mut words: Vec<String> = std::fs::read_to_string(&hits)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    words.sort();
    words.dedup();
    words
}

/// What fish offers for `line` (`complete -C`), its descriptions cut off, run in `cwd`.
fn fish_offers(cwd: &Path, line: &str) -> Vec<String> {
    let script = script_for("fish", cwd);
    let program = format!(
        "source '{}'; complete -C '{}'",
        script.display(),
        line.replace('\'', "\\'")
    );
    let out = Command::new("fish")
        .args(["--no-config", "-c", &program])
        .current_dir(cwd)
        .env("PATH", path_with_bin())
        .output()
        .expect("fish runs (the CI installs it: .ci/run)");
    assert!(out.status.success(), "{out:?}");
    let mut words: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    words.sort();
    words
}

fn ipfs_pinshare_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pinshare.toml"), IPFS_PINSHARE).expect("write spec");
    dir
}

#[test]
fn zsh_completes_service_names_from_the_spec() {
    let dir = ipfs_pinshare_project();
    assert_eq!(
        zsh_offers(dir.path(), "pinshare-dev logs "),
        ["ipfs", "pinshare"]
    );
    assert_eq!(
        zsh_offers(dir.path(), "pinshare-dev exec "),
        ["ipfs", "pinshare"]
    );
    // From elsewhere, with -f after the subcommand.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("pinshare.toml");
    assert_eq!(
        zsh_offers(
            elsewhere.path(),
            &format!("pinshare-dev up -f {} ", spec.display())
        ),
        ["ipfs", "pinshare"]
    );
}

#[test]
fn fish_completes_service_names_where_one_goes() {
    let dir = ipfs_pinshare_project();
    assert_eq!(
        fish_offers(dir.path(), "pinshare-dev logs "),
        ["ipfs", "pinshare"]
    );
    assert_eq!(fish_offers(dir.path(), "pinshare-dev run p"), ["pinshare"]);
    // From elsewhere, with -f before or after the subcommand.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("pinshare.toml");
    for line in [
        format!("pinshare-dev -f {} stats ", spec.display()),
        format!("pinshare-dev rebuild -f {} ", spec.display()),
    ] {
        assert_eq!(
            fish_offers(elsewhere.path(), &line),
            ["ipfs", "pinshare"],
            "{line}"
        );
    }
    // exec's command is no service.
    assert!(!fish_offers(dir.path(), "pinshare-dev exec ipfs ").contains(&"pinshare".to_string()));
}

#[test]
fn bash_honours_f_after_the_subcommand() {
    let dir = project();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("pinshare.toml");
    let spec = spec.to_str().expect("utf-8 path");
    assert_eq!(
        complete(elsewhere.path(), &["pinshare-dev", "up", "-f", spec, ""]),
        ["kubo-node", "webapp"]
    );
    assert_eq!(
        complete(
            elsewhere.path(),
            &["pinshare-dev", "logs", "--file", spec, "w"]
        ),
        ["webapp"]
    );
}

/// elvish and PowerShell are not on the CI machine: their scripts ask the binary first thing in the completer,
/// before clap_complete's own candidates.
#[test]
fn elvish_and_powershell_ask_for_service_names_first() {
    for (shell, opening, ask, generated) in [
        (
            "elvish",
            "set edit:completion:arg-completer[pinshare-dev] = {|@words|",
            "pinshare-dev __complete-services -- $@before",
            "put $@services",
        ),
        (
            "powershell",
            "param($wordToComplete, $commandAst, $cursorPosition)",
            "& 'pinshare-dev' '__complete-services' '--' @line",
            "$completions = @(switch ($command) {",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
            .args(["completions", shell])
            .output()
            .expect("the binary runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let at = |s: &str| {
            text.find(s)
                .unwrap_or_else(|| panic!("{shell}: {s} in {text}"))
        };
        assert!(
            at(opening) < at(ask) && at(ask) < at(generated),
            "{shell}: {text}"
        );
    }
}

/// What the elvish script's completer gives for `words` (the last one being completed), run in `cwd` by a real
/// elvish. `edit:` exists only in an interactive elvish, so the completer is kept in a variable instead and a
/// candidate is its text.
fn elvish_offers(cwd: &Path, words: &[&str]) -> Vec<String> {
    let script = Command::new(env!("CARGO_BIN_EXE_pinshare-dev"))
        .args(["completions", "elvish"])
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&script.stdout)
        .replace(
            "set edit:completion:arg-completer[pinshare-dev] = ",
            "var completer = ",
        )
        .replace("edit:complex-candidate $text", "put $text #");
    let args: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!("{text}\n$completer {}\n", args.join(" "));
    let file = cwd.join("completion.elv");
    std::fs::write(&file, program).expect("write the program");
    let out = Command::new("elvish")
        .arg(&file)
        .current_dir(cwd)
        .env("PATH", path_with_bin())
        .output()
        .expect("elvish runs (the CI installs it: .ci/run)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches("▶ ").to_string())
        .collect()
}

#[test]
fn elvish_completes_service_names_where_one_goes() {
    let dir = ipfs_pinshare_project();
    assert_eq!(
        elvish_offers(dir.path(), &["pinshare-dev", "logs", ""]),
        ["ipfs", "pinshare"]
    );
    let spec = dir.path().join("pinshare.toml");
    let spec = spec.to_str().expect("utf-8 path");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        elvish_offers(elsewhere.path(), &["pinshare-dev", "-f", spec, "run", ""]),
        ["ipfs", "pinshare"]
    );
    // Elsewhere the generated candidates: the subcommands.
    assert!(elvish_offers(dir.path(), &["pinshare-dev", ""]).contains(&"logs".to_string()));
}
