//! `completions SHELL`: the shell completion script (clap_complete's, from the command line's own definition), with
//! service names completed from the spec at completion time: the bash and fish scripts call the hidden
//! `pinshare-dev [-f PATH] __complete-services`, which prints the spec's service names, one a line.

use clap_complete::Shell;

/// Subcommands whose positional arguments are service names.
const TAKE_SERVICES: &[&str] = &["up", "logs", "stats", "rebuild"];

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
        // zsh, elvish, PowerShell: subcommands and options only.
        _ => {}
    }
    text
}

/// clap_complete offers hidden subcommands too; the helper is for the scripts only. Each shell's offer of it is
/// one line (fish `-a "…"`, zsh `'NAME:about' \`, elvish `cand NAME`, PowerShell `[CompletionResult]::new('NAME'`,
/// bash the word in an `opts` list): those go, the rest of the script stays as generated.
fn hide_helper(script: &str) -> String {
    const HELPER: &str = "__complete-services";
    let offers = [
        format!("'{HELPER}:"),
        format!("cand {HELPER} "),
        format!("[CompletionResult]::new('{HELPER}'"),
    ];
    let mut out = String::with_capacity(script.len());
    for line in script.lines() {
        let t = line.trim_start();
        if offers.iter().any(|o| t.starts_with(o.as_str()))
            || line.contains(&format!("-a \"{HELPER}\""))
        {
            continue;
        }
        out.push_str(&line.replace(&format!(" {HELPER}"), ""));
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
    local i=1 file=() sub=""
    while [ "$i" -lt "$COMP_CWORD" ]; do
        case "${{COMP_WORDS[i]}}" in
            -f|--file) file=(-f "${{COMP_WORDS[i+1]}}"); i=$((i + 2)); continue ;;
            --file=*) file=(-f "${{COMP_WORDS[i]#--file=}}") ;;
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
    # rebuild takes one service.
    if [ "$sub" = rebuild ] && [ "$COMP_CWORD" -gt "$((i + 1))" ]; then COMPREPLY=(); return 0; fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$({name} "${{file[@]}}" __complete-services 2>/dev/null)" -- "$cur"))
}}
if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F {wrapper} -o nosort -o bashdefault -o default {name}
else
    complete -F {wrapper} -o bashdefault -o default {name}
fi
"#
    )
}

/// The fish addition: service names after the subcommands that take them.
fn fish_services(name: &str) -> String {
    format!(
        "complete -c {name} -n '__fish_seen_subcommand_from {}' -f -a '({name} __complete-services 2>/dev/null)'\n",
        TAKE_SERVICES.join(" ")
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
