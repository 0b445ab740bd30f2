//! A stand-in for Claude Code that keeps a state file exactly as Claude Code (2.1.x) does
//! (`~/.claude/sessions/<pid>.json` with its `pid`, `procStart` and `status`), for tests and
//! the load benchmark that need a session whose Claude Code state is read, without the real
//! program: it writes `waiting`, draws a question and waits quietly for one line of input;
//! then it writes `busy` before it prints again.

/// The stand-in as a bash script (run it as `bash --norc --noprofile FILE`, with `HOME` set to
/// where its state file should go).
pub const SCRIPT: &str = r#"st=$(read -r s < /proc/$$/stat; s=${s##*) }; set -- $s; echo "${20}")
mkdir -p "$HOME/.claude/sessions"
state() {
  printf '{"pid":%s,"sessionId":"fake-1","cwd":"%s","procStart":"%s","status":"%s"}' \
    "$$" "$PWD" "$st" "$1" > "$HOME/.claude/sessions/$$.tmp"
  mv "$HOME/.claude/sessions/$$.tmp" "$HOME/.claude/sessions/$$.json"
}
state waiting
printf 'Do you want to proceed?\n> 1. Yes\n  2. No\n'
read -r line
state busy
echo "working on $line"
exec sleep 1000
"#;

/// Writes the script into `dir` and returns a profile table value (TOML inline table) that
/// runs it with `HOME` set to `home`.
pub fn profile(dir: &std::path::Path, home: &std::path::Path) -> String {
    let script = dir.join("fake-claude.sh");
    std::fs::write(&script, SCRIPT).expect("write the Claude Code stand-in");
    format!(
        "{{ command = [\"bash\", \"--norc\", \"--noprofile\", {:?}], env = {{ HOME = {:?} }} }}",
        script.display().to_string(),
        home.display().to_string()
    )
}
