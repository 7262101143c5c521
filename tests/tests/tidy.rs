//! Tidy check (as rust-analyzer's tidy tests): every external program the
//! tests and scripts start comes from a Debian package that
//! `scripts/deps.sh` installs, so a fresh machine has it.
//!
//! Programs are found where they are started:
//! - Rust (`tests/`, `crates/`): `Command::new("…")` and the display
//!   helper's `.command("…")` with a string literal or a `const NAME: &str`
//!   of the same file;
//! - shell (`scripts/*.sh`, `tests/web/run.sh`, `.ci/run`, `installer/linux/*.sh`
//!   which the elevation tests run): the command words of
//!   every simple command, `$(…)` included (builtins, keywords, the
//!   script's own functions and those of the repository scripts it
//!   sources are skipped; heredoc bodies are not read);
//! - anywhere in those files: a literal `/usr/bin/NAME`.
//!
//! Each program's owning package is asked of `dpkg -S` (the path on PATH,
//! symlinks through /etc/alternatives followed, else `/usr/bin/NAME`). A
//! package counts as installed by `scripts/deps.sh` if a `LOTSE_PKGS_*`
//! list names it or something it depends on (Depends/Pre-Depends, as
//! `apt-get --no-install-recommends` installs them), or if it is part of
//! every Debian system (Essential, or Priority required: debootstrap's
//! minimal base). Without dpkg the check is skipped with a message.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Programs that no Debian package needs to provide, and why.
const ALLOWED: &[(&str, &str)] = &[
    // Ours: built from this workspace.
    ("lotse", "the customer client (crates/client)"),
    ("lotse-relay", "the relay (crates/relay)"),
    ("lotse-console", "the technician console (crates/console)"),
    ("screen_bench", "tests/src/bin (scripts/bench-screen.sh)"),
    ("key_bench", "tests/src/bin (scripts/bench-screen.sh)"),
    (
        "stress_windows",
        "tests/src/bin (scripts/stress-windows.sh)",
    ),
    // Inside the Wine prefix (the Windows backend's tests run under Wine,
    // whose package provides it as C:\windows\system32\notepad.exe).
    ("notepad.exe", "Wine's own notepad, from the wine package"),
    // The toolchain, installed outside apt (README: rustup, cargo-nextest,
    // Node.js 20).
    ("cargo", "rustup"),
    ("rustc", "rustup"),
    ("node", "Node.js 20, installed as the README says"),
    ("npm", "Node.js 20, installed as the README says"),
    // Optional: tests/tests/control.rs asks gdb for the client's stacks
    // only to describe a failure, and goes on without it.
    ("gdb", "optional failure report"),
    // Optional: installer/linux/install.sh runs it only where it exists
    // (`command -v`), as on a desktop that has it.
    ("update-desktop-database", "optional, guarded by command -v"),
    // scripts/bench-screen.sh (a benchmark, not a test) sources the shared
    // bench environment (/work/shared/bench/env.sh) for these functions;
    // its setup.sh installs the benchmark's own packages.
    ("stop_pid", "function of the shared bench env.sh"),
    ("start_x", "function of the shared bench env.sh"),
    ("start_xterm", "function of the shared bench env.sh"),
    // scripts/deps.sh's own function, sourced by the scripts.
    ("lotse_need", "function of scripts/deps.sh"),
    ("lotse_archive_uri", "function of scripts/deps.sh"),
    // Ours: the Wayland test bed's tools (scripts/wayland/), run inside a
    // session whose packages (the GNOME chroot's too) scripts/deps.sh lists.
    ("mutter.py", "scripts/wayland/mutter.py"),
    ("typed-app", "scripts/wayland/typed-app"),
    // Not commands: case patterns in scripts/wayland.sh (session kinds,
    // D-Bus service files it leaves out of the chroot's activation).
    ("gnome", "a session kind in scripts/wayland.sh"),
    ("mutter", "a session kind in scripts/wayland.sh"),
    (
        "org.freedesktop.portal.Desktop.service",
        "a file name in scripts/wayland.sh",
    ),
    (
        "org.freedesktop.impl.portal.desktop.gnome.service",
        "a file name in scripts/wayland.sh",
    ),
    (
        "org.freedesktop.impl.portal.desktop.wlr.service",
        "a file name in scripts/wayland.sh",
    ),
];

#[test]
fn every_program_the_tests_and_scripts_start_comes_from_a_package_in_deps_sh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned();
    let programs = programs_started(&root);
    // The scan itself must work: these are started for sure.
    for known in ["Xvfb", "xdotool", "xrandr", "sh", "apt-get"] {
        assert!(
            programs.contains_key(known),
            "the scan missed {known}; found {:?}",
            programs.keys().collect::<Vec<_>>()
        );
    }
    if Command::new("dpkg").arg("--version").output().is_err() {
        println!(
            "tidy: SKIPPED: dpkg is not available (not a Debian-like system), so which \
             package provides {} programs cannot be checked",
            programs.len()
        );
        return;
    }
    let deps = std::fs::read_to_string(root.join("scripts/deps.sh")).expect("scripts/deps.sh");
    let listed = deps_packages(&deps);
    assert!(listed.contains("xvfb"), "no LOTSE_PKGS_* lists in deps.sh");
    let installed = installed_packages();
    let allowed_pkgs = closure(&listed, &installed);
    let allowed: HashMap<&str, &str> = ALLOWED.iter().copied().collect();
    let paths: BTreeSet<PathBuf> = programs
        .keys()
        .filter(|p| !allowed.contains_key(p.as_str()))
        .flat_map(|p| candidate_paths(p))
        .collect();
    let owners = dpkg_owners(&paths);

    let mut problems = Vec::new();
    for (program, places) in &programs {
        if allowed.contains_key(program.as_str()) {
            continue;
        }
        let places = places.iter().cloned().collect::<Vec<_>>().join(", ");
        match owner(program, &owners) {
            Ok((path, pkgs)) => {
                if !pkgs.iter().any(|p| allowed_pkgs.contains(p)) {
                    problems.push(format!(
                        "{program} ({path}, package {}) is started by {places}, but no package \
                         in scripts/deps.sh provides it",
                        pkgs.join("/")
                    ));
                }
            }
            Err(why) => problems.push(format!(
                "{program} is started by {places}, but {why}: add its package to \
                 scripts/deps.sh (or, if it is ours or installed outside apt, to ALLOWED)"
            )),
        }
    }
    println!(
        "tidy: {} programs checked against scripts/deps.sh: {}",
        programs.len(),
        programs.keys().cloned().collect::<Vec<_>>().join(" ")
    );
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// Every program started, with the files that start it.
fn programs_started(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut note = |names: BTreeSet<String>, file: &Path| {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for name in names {
            found.entry(name).or_default().insert(rel.clone());
        }
    };
    let mut rust = Vec::new();
    for dir in ["tests", "crates"] {
        rust_files(&root.join(dir), &mut rust);
    }
    for file in rust {
        // This file names programs and paths as examples.
        if file.ends_with("tests/tests/tidy.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let mut names = rust_programs(&text);
        names.extend(usr_bin_paths(&text));
        note(names, &file);
    }
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root.join("scripts"))
        .expect("scripts/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    scripts.push(root.join("tests/web/run.sh"));
    scripts.push(root.join(".ci/run"));
    // The installer scripts the elevation tests run.
    scripts.push(root.join("installer/linux/install.sh"));
    scripts.push(root.join("installer/linux/uninstall.sh"));
    for file in scripts {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut functions = shell_functions(&text);
        // Functions of repository scripts it sources (`. scripts/deps.sh`).
        for sourced in sourced_files(&text) {
            if let Ok(other) = std::fs::read_to_string(root.join(sourced)) {
                functions.extend(shell_functions(&other));
            }
        }
        let mut names: BTreeSet<String> = shell_commands(&text)
            .into_iter()
            .filter(|c| !functions.contains(c))
            .collect();
        names.extend(usr_bin_paths(&text));
        note(names, &file);
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != "node_modules" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `Command::new(X)` and `.command(X)` where X is a string literal or a
/// `const X: &str = "…"` of the same file.
fn rust_programs(text: &str) -> BTreeSet<String> {
    let consts = rust_str_consts(text);
    let mut out = BTreeSet::new();
    for marker in ["Command::new(", ".command("] {
        for (at, _) in text.match_indices(marker) {
            let arg = text[at + marker.len()..].trim_start();
            if let Some(lit) = arg.strip_prefix('"') {
                if let Some(end) = lit.find('"') {
                    out.insert(lit[..end].to_owned());
                }
            } else {
                let ident: String = arg
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(value) = consts.get(&ident) {
                    out.insert(value.clone());
                }
            }
        }
    }
    out
}

/// `const NAME: &str = "value";`
fn rust_str_consts(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (at, _) in text.match_indices("const ") {
        let rest = &text[at + "const ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let rest = rest[name.len()..].trim_start();
        let Some(rest) = rest.strip_prefix(": &str = \"") else {
            continue;
        };
        if let Some(end) = rest.find('"') {
            out.insert(name, rest[..end].to_owned());
        }
    }
    out
}

/// Literal `/usr/bin/NAME` paths.
fn usr_bin_paths(text: &str) -> BTreeSet<String> {
    text.match_indices("/usr/bin/")
        .filter_map(|(at, m)| {
            let name: String = text[at + m.len()..]
                .chars()
                .take_while(|c| is_name_char(*c))
                .collect();
            (!name.is_empty()).then(|| format!("/usr/bin/{name}"))
        })
        .collect()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+')
}

/// Names defined as functions: `name() {` or `function name`.
fn shell_functions(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("function ").unwrap_or(line);
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            let rest = line[name.len()..].trim_start();
            (!name.is_empty() && rest.starts_with("()")).then_some(name)
        })
        .collect()
}

/// Repository-relative files sourced with `. path` or `source path`.
fn sourced_files(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(". ")
                .or_else(|| line.strip_prefix("source "))?;
            let path = rest.split_whitespace().next()?;
            (!path.contains('$')).then(|| path.trim_matches('"').to_owned())
        })
        .collect()
}

/// Builtins and keywords of bash: not programs.
const SHELL_BUILTINS: &[&str] = &[
    ":",
    ".",
    "[",
    "[[",
    "]]",
    "alias",
    "break",
    "builtin",
    "cd",
    "continue",
    "declare",
    "echo",
    "eval",
    "exit",
    "export",
    "false",
    "getopts",
    "hash",
    "jobs",
    "kill",
    "let",
    "local",
    "mapfile",
    "printf",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "set",
    "shift",
    "shopt",
    "source",
    "test",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
];

/// Words after which the next word is the command.
const SHELL_PREFIXES: &[&str] = &[
    "if", "then", "else", "elif", "while", "until", "do", "!", "{", "}", "time", "exec", "fi",
    "done", "esac",
];

/// One simple command: its words and what ended it.
#[derive(Debug)]
struct Segment {
    words: Vec<String>,
    end: &'static str,
}

/// The command words of a shell script (pragmatic, see the module doc).
fn shell_commands(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut expect_pattern = false;
    for seg in shell_segments(&without_heredocs(text)) {
        if seg.words.is_empty() {
            if seg.end == ";;" {
                expect_pattern = true;
            }
            continue;
        }
        if std::mem::take(&mut expect_pattern) && seg.end == ")" {
            continue; // a `case` pattern
        }
        if seg.end == ";;" {
            expect_pattern = true;
        }
        let mut words = seg.words.iter().peekable();
        while let Some(word) = words.next() {
            let w = word.as_str();
            if is_assignment(w) || SHELL_PREFIXES.contains(&w) {
                continue;
            }
            if w == "case" {
                // `case WORD in` (the first pattern may follow on this line).
                expect_pattern = seg.end != ")";
                break;
            }
            if w == "for" || w == "select" || SHELL_BUILTINS.contains(&w) {
                break;
            }
            if w == "command" {
                // `command -v x` asks; `command x` runs x.
                if words.peek().is_some_and(|n| n.starts_with('-')) {
                    break;
                }
                continue;
            }
            let name = if w.starts_with('$') || w.contains('/') && !w.starts_with('/') {
                // "$bin/lotse-relay" runs lotse-relay; "./x.sh", "$PY": ours or unknown.
                match w.rsplit_once('/') {
                    Some((dir, last)) if dir.starts_with('$') && !last.contains('$') => last,
                    _ => break,
                }
            } else {
                w
            };
            if !name.is_empty() && name.chars().all(|c| is_name_char(c) || c == '/') {
                out.insert(name.to_owned());
            }
            break;
        }
    }
    out
}

fn is_assignment(word: &str) -> bool {
    let Some(eq) = word.find('=') else {
        return false;
    };
    let name = word[..eq].trim_end_matches('+');
    let name = name.split('[').next().unwrap_or("");
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The script without the bodies of heredocs (their lines are data).
fn without_heredocs(text: &str) -> String {
    let mut out = String::new();
    let mut until: Option<String> = None;
    for line in text.lines() {
        if let Some(delim) = &until {
            if line.trim() == delim {
                until = None;
            }
            out.push('\n');
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if let Some(at) = line.find("<<")
            && !line[at..].starts_with("<<<")
        {
            let rest = line[at + 2..].trim_start_matches('-').trim_start();
            let delim: String = rest
                .trim_start_matches(['\'', '"'])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !delim.is_empty() {
                until = Some(delim);
            }
        }
    }
    out
}

/// Split a script into simple commands; `$(…)` bodies are commands of
/// their own (their text stands as `$()` in the outer word).
fn shell_segments(text: &str) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    let mut segs = Vec::new();
    let mut stack: Vec<(Vec<String>, String, bool)> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_double = false;
    let mut skip_word = false;
    let mut i = 0;
    let finish = |cur: &mut String, words: &mut Vec<String>, skip: &mut bool| {
        if !cur.is_empty() {
            if !std::mem::take(skip) {
                words.push(std::mem::take(cur));
            }
            cur.clear();
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' => {
                // Escaped character; a backslash-newline joins lines.
                if let Some(n) = next
                    && n != '\n'
                {
                    cur.push(c);
                    cur.push(n);
                }
                i += 2;
                continue;
            }
            '\'' if !in_double => {
                // A quoted word part: up to the closing quote, as is.
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    cur.push(chars[i]);
                    i += 1;
                }
                // A quoted empty string is still a word.
                if cur.is_empty() {
                    cur.push('\'');
                    cur.push('\'');
                }
            }
            '"' => in_double = !in_double,
            '$' if next == Some('(') && chars.get(i + 2) == Some(&'(') => {
                // Arithmetic: part of the word.
                let mut depth = 0;
                while i < chars.len() {
                    cur.push(chars[i]);
                    match chars[i] {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            '$' if next == Some('(') => {
                stack.push((
                    std::mem::take(&mut words),
                    std::mem::take(&mut cur),
                    in_double,
                ));
                in_double = false;
                i += 2;
                continue;
            }
            '$' if next == Some('{') => {
                while i < chars.len() && chars[i] != '}' {
                    cur.push(chars[i]);
                    i += 1;
                }
                cur.push('}');
            }
            ')' if !in_double && !stack.is_empty() => {
                finish(&mut cur, &mut words, &mut skip_word);
                segs.push(Segment {
                    words: std::mem::take(&mut words),
                    end: "$()",
                });
                let (w, mut c2, d) = stack.pop().unwrap_or_default();
                c2.push_str("$()");
                words = w;
                cur = c2;
                in_double = d;
            }
            _ if in_double => cur.push(c),
            '#' if cur.is_empty() => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            ' ' | '\t' => finish(&mut cur, &mut words, &mut skip_word),
            '<' | '>' => {
                // Redirection: an fd number before it is not a word, the
                // target after it is not a command.
                if cur.chars().all(|c| c.is_ascii_digit()) {
                    cur.clear();
                }
                finish(&mut cur, &mut words, &mut skip_word);
                while i + 1 < chars.len() && matches!(chars[i + 1], '<' | '>' | '&' | '-') {
                    i += 1;
                }
                skip_word = true;
            }
            '&' if next == Some('>') => {
                finish(&mut cur, &mut words, &mut skip_word);
                i += 1;
                while i + 1 < chars.len() && chars[i + 1] == '>' {
                    i += 1;
                }
                skip_word = true;
            }
            '\n' | ';' | '&' | '|' | '(' | ')' => {
                finish(&mut cur, &mut words, &mut skip_word);
                let end = if c == ';' && next == Some(';') {
                    i += 1;
                    ";;"
                } else {
                    match c {
                        '\n' => "\n",
                        ';' => ";",
                        '&' => "&",
                        '|' => "|",
                        '(' => "(",
                        _ => ")",
                    }
                };
                skip_word = false;
                segs.push(Segment {
                    words: std::mem::take(&mut words),
                    end,
                });
            }
            _ => cur.push(c),
        }
        i += 1;
    }
    finish(&mut cur, &mut words, &mut skip_word);
    segs.push(Segment { words, end: "\n" });
    segs
}

/// The packages the `LOTSE_PKGS_*="…"` lines of deps.sh name.
fn deps_packages(deps: &str) -> BTreeSet<String> {
    deps.lines()
        .filter_map(|l| l.trim_start().strip_prefix("LOTSE_PKGS_"))
        .filter_map(|l| l.split_once('=').map(|(_, v)| v))
        .flat_map(|v| v.trim_matches(['"', '\'']).split_whitespace())
        .map(str::to_owned)
        .collect()
}

/// An installed package as dpkg knows it.
#[derive(Debug, Default)]
struct Installed {
    base: bool,
    depends: Vec<String>,
}

/// Installed packages (base system or not, dependencies), and which
/// installed packages provide each virtual package.
fn installed_packages() -> (HashMap<String, Installed>, HashMap<String, Vec<String>>) {
    let out = Command::new("dpkg-query")
        .args([
            "-W",
            "-f=${Package}\t${Essential}\t${Priority}\t${Status}\t${Pre-Depends}, ${Depends}\t${Provides}\n",
        ])
        .output()
        .expect("dpkg-query");
    let mut pkgs: HashMap<String, Installed> = HashMap::new();
    let mut provides: HashMap<String, Vec<String>> = HashMap::new();
    let names = |list: &str| -> Vec<String> {
        list.split([',', '|'])
            .filter_map(|d| d.split_whitespace().next())
            .map(|d| d.split(':').next().unwrap_or(d).to_owned())
            .filter(|d| !d.is_empty())
            .collect()
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 6 || !f[3].ends_with(" installed") {
            continue;
        }
        let p = pkgs.entry(f[0].to_owned()).or_default();
        p.base |= f[1] == "yes" || f[2] == "required";
        p.depends.extend(names(f[4]));
        for v in names(f[5]) {
            provides.entry(v).or_default().push(f[0].to_owned());
        }
    }
    (pkgs, provides)
}

/// The listed packages, everything they depend on, and the base system.
fn closure(
    listed: &BTreeSet<String>,
    (pkgs, provides): &(HashMap<String, Installed>, HashMap<String, Vec<String>>),
) -> BTreeSet<String> {
    let mut todo: Vec<String> = listed.iter().cloned().collect();
    todo.extend(pkgs.iter().filter(|(_, p)| p.base).map(|(n, _)| n.clone()));
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(p) = pkgs.get(&name) {
            todo.extend(p.depends.iter().cloned());
        }
        if let Some(ps) = provides.get(&name) {
            todo.extend(ps.iter().cloned());
        }
    }
    seen
}

/// Where `program` may be, in order: the path on PATH, `/usr/bin/NAME`…,
/// each also where its symlinks lead (/etc/alternatives) and under the
/// other name of a merged /usr.
fn candidate_paths(program: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if program.starts_with('/') {
        found.push(PathBuf::from(program));
    } else {
        found.extend(on_path(program));
        for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            found.push(Path::new(dir).join(program));
        }
    }
    let mut out = Vec::new();
    for path in found.into_iter().filter(|p| p.exists()) {
        let mut paths = vec![path.clone()];
        if let Ok(real) = path.canonicalize() {
            paths.push(real);
        }
        for p in paths {
            for q in usr_merge_aliases(&p) {
                if !out.contains(&q) {
                    out.push(q);
                }
            }
        }
    }
    out
}

/// The path of `program` and the package(s) owning it, from the owners
/// of every candidate path (one `dpkg -S` for all).
fn owner(
    program: &str,
    owners: &HashMap<PathBuf, Vec<String>>,
) -> Result<(String, Vec<String>), String> {
    let candidates = candidate_paths(program);
    if candidates.is_empty() {
        return Err("it is not installed here, so its package is unknown".to_owned());
    }
    for path in &candidates {
        if let Some(pkgs) = owners.get(path) {
            return Ok((path.display().to_string(), pkgs.clone()));
        }
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!("no package owns {}", tried.join(" or ")))
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// `/usr/bin/x` and `/bin/x` (and sbin) are one file on a merged /usr,
/// but dpkg knows it under the name its package used.
fn usr_merge_aliases(path: &Path) -> Vec<PathBuf> {
    let s = path.display().to_string();
    let mut out = vec![path.to_owned()];
    for (a, b) in [
        ("/usr/bin/", "/bin/"),
        ("/usr/sbin/", "/sbin/"),
        ("/usr/lib/", "/lib/"),
    ] {
        if let Some(rest) = s.strip_prefix(a) {
            out.push(PathBuf::from(format!("{b}{rest}")));
        } else if let Some(rest) = s.strip_prefix(b) {
            out.push(PathBuf::from(format!("{a}{rest}")));
        }
    }
    out
}

/// `dpkg -S PATH…`: the owning packages of those paths dpkg knows.
fn dpkg_owners(paths: &BTreeSet<PathBuf>) -> HashMap<PathBuf, Vec<String>> {
    let out = Command::new("dpkg")
        .arg("-S")
        .args(paths)
        .output()
        .expect("dpkg -S");
    // Exit status 1 only says that some paths belong to no package.
    let mut owners = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with("diversion ") {
            continue;
        }
        let Some((pkgs, path)) = line.rsplit_once(": ") else {
            continue;
        };
        let pkgs = pkgs
            .split(", ")
            .map(|p| p.split(':').next().unwrap_or(p).trim().to_owned())
            .collect();
        owners.insert(PathBuf::from(path), pkgs);
    }
    owners
}

#[test]
fn the_shell_scan_finds_command_words_and_skips_the_rest() {
    let script = r#"#!/usr/bin/env bash
set -euo pipefail
. scripts/deps.sh
helper() { grep -q x "$1" || missing+=("$1"); }
FOO=1 xrandr --query | tee out.txt >/dev/null 2>&1 &
if ! command -v node >/dev/null; then exec xterm -e "$(dirname "$0")"; fi
x=$(seq 3); case "$x" in /*) ;; *) y=1 ;; esac
for n in $(cut -d' ' -f1 /proc/loadavg); do [ -e "$n" ] && break; done
"$bin/lotse-relay" --x & helper
cat <<EOF
notacommand here
EOF
echo "quoted ; notacommand2" # comment words
"#;
    let mut found = shell_commands(script);
    for f in shell_functions(script) {
        found.remove(&f);
    }
    let want: BTreeSet<String> = [
        "grep",
        "xrandr",
        "tee",
        "xterm",
        "dirname",
        "seq",
        "cut",
        "lotse-relay",
        "cat",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(found, want);
    assert_eq!(sourced_files(script), ["scripts/deps.sh"]);
    assert_eq!(usr_bin_paths(script), ["/usr/bin/env".to_owned()].into());
}

#[test]
fn the_rust_scan_finds_literals_and_constants() {
    let code = r#"
const PYTHON: &str = "/usr/bin/python3";
fn f(s: &Screen) {
    Command::new("Xvfb");
    std::process::Command::new(
        "xdotool",
    );
    s.command(PYTHON);
    self.command("xprop");
    Command::new(&exe);
    self.command(ctx, Command::EndSession);
}
"#;
    let want: BTreeSet<String> = ["Xvfb", "xdotool", "/usr/bin/python3", "xprop"]
        .map(str::to_owned)
        .into();
    assert_eq!(rust_programs(code), want);
}

/// No test is retried: not in `.config/` (nextest's `retries`), not on
/// the command line of the test scripts (`--retries`, `NEXTEST_RETRIES`).
/// A test that needs a retry has found a bug (docs/RELIABILITY.md).
#[test]
fn nothing_retries_a_failed_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join(".config")).expect(".config") {
        files.push(entry.expect("entry").path());
    }
    files.extend(["scripts/test.sh", ".ci/run", ".github/workflows/ci.yml"].map(|f| root.join(f)));
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        for (n, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or("");
            if code.contains("retries") || code.contains("RETRIES") {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "tests are retried:\n{}", found.join("\n"));
}
