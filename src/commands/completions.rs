//! `completions SHELL`: the shell completion script (clap_complete's, from the command line's own definition), with
//! service names completed from the spec at completion time in every shell: the scripts call the hidden
//! `pinshare-dev __complete-services -- WORDS...` with the words before the one being completed, and it prints the
//! spec's service names when one goes there (exit 1 when none does), the spec read from the -f/--file of those
//! words. The binary parses the line with clap itself, so each shell's part is a few lines and no shell re-implements
//! the command line. (clap_complete's own dynamic completion, `CompleteEnv`, needs its `unstable-dynamic` feature in
//! 4.6: not a stable interface.)

use clap_complete::Shell;

/// Subcommands whose positional arguments are service names.
const TAKE_SERVICES: &[&str] = &[
    "up", "logs", "stats", "rebuild", "exec", "run", "restart", "stop", "start", "trigger",
];

/// The completion script for `shell`; `cmd` is the command line's definition (`Cli::command()`).
pub fn script(shell: Shell, cmd: &mut clap::Command) -> String {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, cmd, &name, &mut out);
    let mut text = hide_helper(&String::from_utf8_lossy(&out));
    match shell {
        Shell::Bash => {
            // clap_complete 4.6's case arms spell a hyphenated bin name's state differently from its dispatch
            // loop (`pinshare__subcmd__dev__subcmd__up)` vs `pinshare__dev__subcmd__up`), so no subcommand's
            // options ever complete (clap-rs/clap#6421): spell the arms as the loop does.
            text = text.replace(
                &format!("{}__subcmd__", name.replace('-', "__subcmd__")),
                &format!("{}__subcmd__", name.replace('-', "__")),
            );
            let generated = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("complete -F "))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or("_pinshare__dev")
                .to_string();
            text.push_str(&bash_services(&name, &generated));
        }
        Shell::Fish => text.push_str(&fish_services(&name)),
        Shell::Zsh => text = zsh_services(&text, &name),
        Shell::Elvish => {
            text = insert_after(&text, "= {|@words|", &elvish_services(&name));
            // `return` ends only a `fn`: the names, when there are some, replace the generated candidates.
            text = text.replace(
                "\n    $completions[$command]\n",
                "\n    if (not-eq $services $nil) {\n        put $@services\n    } else {\n        $completions[$command]\n    }\n",
            );
        }
        Shell::PowerShell => {
            let param = "param($wordToComplete, $commandAst, $cursorPosition)";
            text = insert_after(&text, param, &powershell_services(&name));
        }
        _ => {}
    }
    text
}

/// clap_complete offers hidden subcommands too; the helpers (`__complete-services` for the scripts, `__docs` for
/// the book) are not for the user. Each shell's offer of one is one line (fish `-a "…"`, zsh `'NAME:about' \`,
/// elvish `cand NAME`, PowerShell `[CompletionResult]::new('NAME'`, bash the word in an `opts` list): those go, the
/// rest of the script stays as generated.
fn hide_helper(script: &str) -> String {
    const HELPERS: [&str; 2] = ["__complete-services", "__docs"];
    let offered = |line: &str, helper: &str| {
        let t = line.trim_start();
        t.starts_with(&format!("'{helper}:"))
            || t.starts_with(&format!("cand {helper} "))
            || t.starts_with(&format!("[CompletionResult]::new('{helper}'"))
            || line.contains(&format!("-a \"{helper}\""))
    };
    let mut out = String::with_capacity(script.len());
    for line in script.lines() {
        if HELPERS.iter().any(|h| offered(line, h)) {
            continue;
        }
        let mut kept = line.to_string();
        for h in HELPERS {
            kept = kept.replace(&format!(" {h} "), " ");
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// The bash addition: a function run after clap_complete's that, where a service name goes, offers the spec's.
fn bash_services(name: &str, generated: &str) -> String {
    let wrapper = format!("_{}_services", name.replace('-', "_"));
    let take = TAKE_SERVICES.join("|");
    format!(
        r#"
# pinshare-dev: service names from the spec, asked for at completion time (`{name} [-f PATH] __complete-services`).
{wrapper}() {{
    {generated} "$@"
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local i=1 sub=""
    while [ "$i" -lt "$COMP_CWORD" ]; do
        case "${{COMP_WORDS[i]}}" in
            -f|--file|--progress) i=$((i + 2)); continue ;;
            -*) ;;
            *) sub="${{COMP_WORDS[i]}}"; break ;;
        esac
        i=$((i + 1))
    done
    case "$sub" in
        {take}) ;;
        *) return 0 ;;
    esac
    case "$cur" in -*) return 0 ;; esac
    case "$prev" in --tail|--since) return 0 ;; esac
    # rebuild and the steering commands take one service.
    case "$sub" in rebuild|restart|stop|start|trigger)
        if [ "$COMP_CWORD" -gt "$((i + 1))" ]; then COMPREPLY=(); return 0; fi ;;
    esac
    # The binary says whether a service name goes here (exit 1: no, e.g. exec's CMD) and reads the spec the
    # line's own -f/--file names, before or after the subcommand.
    local names rc=0
    names=$({name} __complete-services -- "${{COMP_WORDS[@]:0:COMP_CWORD}}" 2>/dev/null) || rc=$?
    if [ "$rc" = 1 ]; then return 0; fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
}}
if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F {wrapper} -o nosort -o bashdefault -o default {name}
else
    complete -F {wrapper} -o bashdefault -o default {name}
fi
"#
    )
}

/// The fish addition: service names where the binary says one goes.
fn fish_services(name: &str) -> String {
    let ask = format!("{name} __complete-services -- (commandline -opc)");
    format!(
        "complete -c {name} -n '__fish_seen_subcommand_from {}; and {ask} >/dev/null 2>&1' -f -a '({ask} 2>/dev/null)'\n",
        TAKE_SERVICES.join(" ")
    )
}

/// `addition` as the lines after the first line of `script` that ends with `anchor` (the completer's opening),
/// so it runs first; the script unchanged when clap_complete spells that line otherwise (the test of each shell
/// catches that).
fn insert_after(script: &str, anchor: &str, addition: &str) -> String {
    match script.find(&format!("{anchor}\n")) {
        Some(at) => {
            let end = at + anchor.len() + 1;
            format!("{}{addition}{}", &script[..end], &script[end..])
        }
        None => script.to_string(),
    }
}

/// The zsh addition: the service arguments (`':service -- …:_default'`, `'*::services -- …:_default'`) complete
/// with a function that asks the binary. `_arguments` narrows `words` to the subcommand's, so the top function
/// keeps the whole line (up to the word completed) for it, -f before the subcommand included.
fn zsh_services(script: &str, name: &str) -> String {
    let var = format!("_{}_line", name.replace('-', "_"));
    let func = format!("_{name}_services");
    let mut out = String::with_capacity(script.len() + 512);
    for line in script.lines() {
        if line.starts_with(&format!("if [ \"$funcstack[1]\" = \"_{name}\" ]")) {
            out.push_str(&format!(
                r#"(( $+functions[{func}] )) ||
{func}() {{
    local -a names expl
    names=(${{(f)"$({name} __complete-services -- "${{(@Q){var}}}" 2>/dev/null)"}})
    _wanted services expl 'service' compadd -a names
}}

"#
            ));
        }
        let service_arg = line.starts_with("':service -- ") || line.starts_with("'*::services -- ");
        if service_arg && line.ends_with(":_default' \\") {
            out.push_str(&line.replace(":_default' \\", &format!(":{func}' \\")));
        } else {
            out.push_str(line);
        }
        out.push('\n');
        if line == format!("_{name}() {{") {
            out.push_str(&format!(
                "    local -a {var}; {var}=(\"${{(@)words[1,CURRENT-1]}}\")\n"
            ));
        }
    }
    out
}

/// The elvish addition, first in the completer: the binary's service names where one goes (`$nil` elsewhere).
fn elvish_services(name: &str) -> String {
    format!(
        r#"    # pinshare-dev: service names from the spec where one goes (the binary exits non-zero elsewhere).
    var services = $nil
    var before = $words[..-1]
    try {{
        set services = [({name} __complete-services -- $@before 2>/dev/null | from-lines)]
    }} catch {{ }}
"#
    )
}

/// The PowerShell addition, first in the script block: the binary's service names where one goes.
fn powershell_services(name: &str) -> String {
    format!(
        r#"    # pinshare-dev: service names from the spec where one goes (the binary exits non-zero elsewhere).
    $line = @($commandAst.CommandElements | Where-Object {{ $_.Extent.EndOffset -lt $cursorPosition }} | ForEach-Object {{
        if ($_ -is [StringConstantExpressionAst]) {{ $_.Value }} else {{ $_.Extent.Text }}
    }})
    $services = @(& '{name}' '__complete-services' '--' @line 2>$null)
    if ($LASTEXITCODE -eq 0) {{
        $services | Where-Object {{ $_ -like "$wordToComplete*" }} | ForEach-Object {{
            [CompletionResult]::new($_, $_, [CompletionResultType]::ParameterValue, $_)
        }}
        return
    }}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bash_addition_wraps_the_generated_function_and_replaces_its_registration() {
        let mut cmd = clap::Command::new("pinshare-dev").subcommand(clap::Command::new("up"));
        let s = script(Shell::Bash, &mut cmd);
        assert!(s.contains("_pinshare__dev() {"), "{s}");
        assert!(
            s.contains("_pinshare_dev_services() {\n    _pinshare__dev \"$@\""),
            "{s}"
        );
        // The last registrations win: ours.
        let last: Vec<&str> = s
            .lines()
            .rev()
            .filter(|l| l.trim().starts_with("complete "))
            .take(2)
            .collect();
        assert_eq!(
            last,
            [
                "    complete -F _pinshare_dev_services -o bashdefault -o default pinshare-dev",
                "    complete -F _pinshare_dev_services -o nosort -o bashdefault -o default pinshare-dev"
            ]
        );
    }
}
