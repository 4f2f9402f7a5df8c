//! The shell scripts redline runs on the hosts, as pure functions of their inputs (so they can
//! be read and tested here). POSIX `sh`, Debian's `mawk`, coreutils and `/proc` reads only:
//! nothing beyond what a minimal Debian or Ubuntu server has. Every value from the user goes
//! through [`quote`]; nothing else is ever interpolated but numbers and fixed text.
//!
//! A server redline started is recognised by its pid file *and* its working folder (redline
//! starts every server in its member folder and owns the `dir` option), so a recycled pid never
//! gets a signal meant for a server that is gone. Nothing is removed under a base folder
//! (`--remote-dir`) before it is checked to be a real folder of the SSH user, and then only run
//! folders named like redline's tags.

use std::fmt::Write as _;

/// Quotes `text` for `sh` (single quotes; an embedded `'` becomes `'\''`).
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The shell prelude that defines `ours PID DIR`: true when PID is a live process whose working
/// folder is DIR. Both sides must be readable and non-empty, so an unreadable `cwd` or a missing
/// folder never counts as a match.
const PRELUDE: &str = r#"ours() {
	[ -n "$1" ] && [ -d "/proc/$1" ] || return 1
	c=$(readlink "/proc/$1/cwd" 2>/dev/null) && w=$(cd "$2" 2>/dev/null && pwd -P) &&
		[ -n "$c" ] && [ "$c" = "$w" ]
}
"#;

/// The shell prelude that defines `dead PID`: true when PID is gone or a zombie. A zombie has
/// closed its files and ports; it waits only for its parent (the host's init, once the
/// starting shell is gone) to reap it, which some inits do only every second or so.
const DEAD: &str = r#"dead() {
	[ -r "/proc/$1/stat" ] || return 0
	case "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" in Z|X|x|'') return 0;; esac
	return 1
}
"#;

/// The shell prelude that defines `own_base DIR`: exits 3 with a message unless DIR is absent
/// or a real folder (not a symlink) owned by the user running the script.
const OWN_BASE: &str = r#"own_base() {
	[ -e "$1" ] || [ -L "$1" ] || return 0
	if [ -L "$1" ] || [ ! -d "$1" ] || [ "$(stat -c %u "$1")" != "$(id -u)" ]; then
		printf '%s is not a folder of this user (a symlink, a file, or owned by another user); choose another --remote-dir\n' "$1" >&2
		exit 3
	fi
}
"#;

/// The file in a member's folder that gets its server's stdout and stderr.
pub use crate::cluster::process::OUTPUT_FILE;

/// Checks the tools a member needs: the server binary (`bin`) and, for partitions, `nft`.
/// Prints `nft` when nft is there.
pub fn preflight(bin: &str) -> String {
    let b = quote(bin);
    format!(
        "command -v {b} >/dev/null 2>&1 || {{ printf '%s not found on this host: install redis-server \
         (Debian/Ubuntu: apt-get install -y redis-server redis-sentinel) or give its path with --server-bin\\n' {b} >&2; exit 3; }}\n\
         command -v nft >/dev/null 2>&1 && echo nft\n\
         true\n"
    )
}

/// The awk test matching every table redline creates (`redline_` and six hex digits).
pub const ANY_REDLINE_TABLE: &str =
    "$3 ~ /^redline_[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/";

/// The run-folder glob matching every run redline tags (`rl-` and six lowercase hex digits, as
/// [`Tag`](crate::cluster::netns::Tag) makes them), and nothing else.
pub const ANY_RUN: &str = "rl-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]";

/// The first step of removing what earlier runs left on a host: kills the servers whose pid
/// files are in a run folder matching `run_glob` under `base` (and that still work there), and
/// deletes the nftables tables accepted by the awk condition `table_test` on `$3`. The run
/// folder named `keep` (the current run's) is left alone. Prints one line per thing removed.
///
/// Folders go in a second step ([`sweep_folders`]), once every host has done this one: hosts
/// may share a filesystem, and a pid file removed early would hide a server on another host.
/// `run_glob` and `table_test` are fixed text or built from a validated tag, never user input.
pub fn sweep_servers(base: &str, run_glob: &str, table_test: &str, keep: &str) -> String {
    let mut s = format!("{PRELUDE}{OWN_BASE}");
    let _ = writeln!(s, "base={}; keep={}", quote(base), quote(keep));
    let _ = writeln!(s, r#"own_base "$base""#);
    let _ = writeln!(
        s,
        r#"for f in "$base"/{run_glob}/*/pid; do
	[ -f "$f" ] || continue
	case "$f" in "$base/$keep/"*) continue;; esac
	d=$(dirname "$f"); pid=$(cat "$f")
	if ours "$pid" "$d"; then kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid"; echo "killed $pid ($d)"; fi
done
if command -v nft >/dev/null 2>&1; then
	for t in $(nft list tables 2>/dev/null | awk '$2 == "inet" && ({table_test}) {{ print $3 }}'); do
		nft delete table inet "$t" && echo "deleted table inet $t"
	done
fi
true"#
    );
    s
}

/// The second step: removes the run folders matching `run_glob` under `base`, but `keep`.
pub fn sweep_folders(base: &str, run_glob: &str, keep: &str) -> String {
    format!(
        r#"{OWN_BASE}base={}; keep={}
own_base "$base"
for d in "$base"/{run_glob}; do [ -d "$d" ] && [ "$d" != "$base/$keep" ] && rm -rf "$d" && echo "removed $d"; done
true
"#,
        quote(base),
        quote(keep)
    )
}

/// Creates a fresh member folder `dir` under `base`; `base` is created private to its owner
/// (root may write there) and refused when another user owns it.
pub fn make_dir(base: &str, dir: &str) -> String {
    format!(
        r#"{OWN_BASE}b={b}
own_base "$b"
mkdir -p -m 700 "$b" || exit 1
own_base "$b"
rm -rf {d} && mkdir -p {d}
"#,
        b = quote(base),
        d = quote(dir)
    )
}

/// Removes a member folder, then the run folder above it once it is empty (members may share a
/// host's filesystem, so each removes only its own folder).
pub fn remove_dir(member_dir: &str, run_dir: &str) -> String {
    format!(
        "rm -rf {}\nrmdir {} 2>/dev/null; true\n",
        quote(member_dir),
        quote(run_dir)
    )
}

/// Writes stdin to `path`, readable by its owner only (a config may hold passwords).
pub fn write_file(path: &str) -> String {
    format!("umask 077; cat > {p} && chmod 600 {p}\n", p = quote(path))
}

/// Starts `bin args..` in `dir`, detached (its own session, so it leads a process group of its
/// own; stdio to `stdout.log`; umask 077, so what it writes is its owner's only), records its
/// pid in `dir/pid` and prints it. Refuses when the member's server is already running.
pub fn start(dir: &str, bin: &str, args: &[&str]) -> String {
    let mut s = String::from(PRELUDE);
    let _ = writeln!(s, "d={}; cd \"$d\" || exit 1; umask 077", quote(dir));
    let _ = writeln!(
        s,
        r#"if [ -f pid ] && ours "$(cat pid)" "$d"; then echo "already running as $(cat pid)" >&2; exit 1; fi"#
    );
    let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let _ = writeln!(
        s,
        "setsid {} {} >>\"$d/stdout.log\" 2>&1 </dev/null &\necho $! > pid\necho $!",
        quote(bin),
        args.join(" ")
    );
    s
}

/// Sends `signal` (`KILL`, `STOP`, `CONT`) to the member's server and what it forked (its
/// process group: the server leads its own session) if the server is still ours, then prints
/// `sent`; prints `gone` when it is not running. For `KILL`, waits up to 2 s for it to be
/// gone or a zombie (see `DEAD`).
/// `pid`: the one redline holds, or `None` for the member's pid file. (`kill -SIG -PID`, not
/// `kill -SIG -- -PID`: dash's `kill`, Debian's `sh`, refuses `--` as an illegal number, and the
/// fallback then signalled the leader alone, leaving what a wrapper had forked.)
pub fn signal(dir: &str, pid: Option<u32>, signal: &str) -> String {
    let mut s = format!("{PRELUDE}{DEAD}");
    let pid = pid.map_or_else(
        || r#"$(cat "$d/pid" 2>/dev/null)"#.to_string(),
        |p| p.to_string(),
    );
    let _ = writeln!(
        s,
        r#"d={}; pid={pid}
ours "$pid" "$d" || {{ echo gone; exit 0; }}
kill -{signal} "-$pid" 2>/dev/null || kill -{signal} "$pid" || exit 1"#,
        quote(dir)
    );
    if signal == "KILL" {
        let _ = writeln!(
            s,
            r#"i=0; while ! dead "$pid" && [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done"#
        );
    }
    let _ = writeln!(s, "echo sent");
    s
}

/// Prints the member's server state: `running`, `paused` or `dead`.
pub fn probe(dir: &str, pid: u32) -> String {
    let mut s = String::from(PRELUDE);
    let _ = writeln!(
        s,
        r#"d={}; pid={pid}
ours "$pid" "$d" || {{ echo dead; exit 0; }}
state=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
case "$state" in T|t) echo paused;; Z|X|x) echo dead;; *) echo running;; esac"#,
        quote(dir)
    );
    s
}

/// Prints `yes` when process `pid` is in the process group `leader` leads (a server that a
/// wrapper script forked), else `no`.
pub fn in_group(leader: u32, pid: u32) -> String {
    format!(
        r#"pid={pid}; [ -r "/proc/$pid/stat" ] || {{ echo no; exit 0; }}
group=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f3)
[ "$group" = {leader} ] && echo yes || echo no
"#
    )
}

/// Prints the last `lines` lines of `file` (for error messages), or nothing.
pub fn tail(file: &str, lines: usize) -> String {
    format!("tail -n {lines} {} 2>/dev/null; true\n", quote(file))
}

/// Prints `file`, or nothing when it does not exist.
pub fn cat(file: &str) -> String {
    format!("cat {} 2>/dev/null; true\n", quote(file))
}

/// Replaces the run's nftables table with the `nft -f` script on stdin.
pub const NFT_LOAD: &str = "nft -f -\n";

/// Deletes table `inet <table>` if it exists.
pub fn nft_delete(table: &str) -> String {
    format!(
        "if command -v nft >/dev/null 2>&1 && nft list table inet {t} >/dev/null 2>&1; then nft delete table inet {t}; fi\n",
        t = quote(table)
    )
}

/// Prints `$SSH_CONNECTION` (client address, client port, server address, server port).
pub const SSH_CONNECTION: &str = "echo $SSH_CONNECTION\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> (bool, String) {
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    /// The scripts are run by `sh -n` (syntax only) so a typo cannot reach a host.
    #[test]
    fn every_script_is_valid_sh() {
        let scripts = [
            preflight("redis-server"),
            sweep_servers("/tmp/redline", ANY_RUN, ANY_REDLINE_TABLE, "rl-000000"),
            sweep_servers("/tmp/red'line", "rl-abcdef", "$3 == \"redline_abcdef\"", ""),
            sweep_folders("/tmp/redline", ANY_RUN, "rl-000000"),
            make_dir("/tmp/redline", "/tmp/redline/rl-abcdef/n1"),
            remove_dir("/tmp/redline/rl-abcdef/n1", "/tmp/redline/rl-abcdef"),
            write_file("/tmp/x y/redis.conf"),
            start(
                "/tmp/d",
                "redis-server",
                &["/tmp/d/redis.conf", "--sentinel"],
            ),
            signal("/tmp/d", Some(42), "KILL"),
            signal("/tmp/d", None, "STOP"),
            probe("/tmp/d", 42),
            in_group(42, 43),
            tail("/tmp/d/redis.log", 20),
            cat("/tmp/d/redis.log"),
            nft_delete("redline_abcdef"),
        ];
        for script in scripts {
            let out = std::process::Command::new("sh")
                .args(["-n", "-c", &script])
                .output()
                .expect("sh runs");
            assert!(
                out.status.success(),
                "{script}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn a_hostile_server_path_is_data_not_code() {
        let evil = "/nonexistent/x\"; echo INJECTED; \"$(echo SUB)`echo TICK`";
        let out = std::process::Command::new("sh")
            .args(["-c", &preflight(evil)])
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(3), "{all}");
        assert!(all.contains(evil), "the path is printed as given: {all}");
        assert!(
            !all.contains("INJECTED\n") && !all.contains("TICK\n"),
            "{all}"
        );
    }

    #[test]
    fn start_probe_and_signal_act_only_on_our_process() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let (ok, pid) = run(&start(d, "sleep", &["30"]));
        assert!(ok);
        let pid: u32 = pid.parse().unwrap();
        assert_eq!(run(&probe(d, pid)).1, "running");
        assert!(
            !run(&start(d, "sleep", &["30"])).0,
            "a second start is refused"
        );
        assert_eq!(run(&signal(d, Some(pid), "STOP")).1, "sent");
        // A signal is delivered asynchronously: `kill` may return before the process stops.
        let paused = (0..100).any(|_| {
            let state = run(&probe(d, pid)).1;
            state == "paused" || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                false
            }
        });
        assert!(paused, "SIGSTOP stopped the process");
        assert_eq!(run(&signal(d, None, "CONT")).1, "sent", "by the pid file");
        // A pid that works elsewhere is not ours: probe says dead, signals do nothing.
        let other = tempfile::tempdir().unwrap();
        let o = other.path().to_str().unwrap();
        assert_eq!(run(&probe(o, pid)).1, "dead");
        assert_eq!(run(&signal(o, Some(pid), "KILL")).1, "gone");
        // A folder that does not exist matches nothing, even for an unreadable cwd (pid 1).
        assert_eq!(run(&probe("/nonexistent/folder", 1)).1, "dead");
        assert_eq!(run(&probe(d, pid)).1, "running");
        assert_eq!(run(&signal(d, Some(pid), "KILL")).1, "sent");
        assert_eq!(run(&probe(d, pid)).1, "dead");
        assert_eq!(run(&signal(d, Some(pid), "KILL")).1, "gone");
    }

    /// A killed server that nobody has reaped yet is dead: it holds no port any more, and the
    /// kill need not wait for the host's init to reap it.
    #[test]
    fn a_zombie_counts_as_dead() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        let pid = child.id();
        let alive = run(&format!("{DEAD}dead {pid} && echo dead || echo alive"));
        assert_eq!(alive.1, "alive");
        // SAFETY: signalling our own child, which we reap only below.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        let zombie = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
        });
        assert!(zombie, "the killed child is a zombie until reaped");
        let dead = run(&format!("{DEAD}dead {pid} && echo dead || echo alive"));
        assert_eq!(dead.1, "dead");
        let _ = child.wait();
        assert_eq!(run(&format!("{DEAD}dead {pid} && echo dead")).1, "dead");
    }

    /// A server that a wrapper forked is in the group `start` created, and a signal reaches it.
    #[test]
    fn signals_reach_what_the_started_process_forked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let (ok, leader) = run(&start(d, "sh", &["-c", "sleep 30 & echo $! > child; wait"]));
        assert!(ok);
        let leader: u32 = leader.parse().unwrap();
        let child_file = dir.path().join("child");
        let child: u32 = (0..100)
            .find_map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                std::fs::read_to_string(&child_file)
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            })
            .expect("the wrapper forked");
        assert_eq!(run(&in_group(leader, child)).1, "yes");
        assert_eq!(run(&in_group(leader, std::process::id())).1, "no");
        assert_eq!(run(&signal(d, Some(leader), "KILL")).1, "sent");
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .map_or(true, |s| s.contains(") Z"))
        });
        assert!(gone, "the forked child {child} survived");
    }

    #[test]
    fn sweep_kills_leftover_servers_then_removes_their_folders() {
        let base = tempfile::tempdir().unwrap();
        let b = base.path().to_str().unwrap();
        let member = base.path().join("rl-abc123").join("n1");
        std::fs::create_dir_all(&member).unwrap();
        let (_, pid) = run(&start(member.to_str().unwrap(), "sleep", &["30"]));
        let pid: u32 = pid.parse().unwrap();
        let keep = base.path().join("not-a-run");
        std::fs::create_dir_all(&keep).unwrap();
        let current = base.path().join("rl-cccccc").join("n1");
        std::fs::create_dir_all(&current).unwrap();
        // No nft tables are touched here: the awk test matches nothing.
        let (ok, text) = run(&sweep_servers(b, ANY_RUN, "0", "rl-cccccc"));
        assert!(ok && text.contains(&format!("killed {pid}")), "{text}");
        assert!(member.exists(), "folders stay until the second step");
        let (ok, text) = run(&sweep_folders(b, ANY_RUN, "rl-cccccc"));
        assert!(ok && text.contains("rl-abc123"), "{text}");
        assert!(!member.exists() && keep.exists() && current.exists());
        let gone = (0..40).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
        });
        assert!(gone, "the leftover server was killed");
    }

    /// Only folders named like redline's own tags (`rl-` and six lowercase hex digits) are
    /// removed, and nothing at all under a base folder another user owns.
    #[test]
    fn sweep_removes_only_redline_tags_under_a_base_we_own() {
        let base = tempfile::tempdir().unwrap();
        let b = base.path().to_str().unwrap();
        for name in ["rl-abc123", "rl-zzzzzz", "rl-ABC123", "rl-cccccc"] {
            std::fs::create_dir_all(base.path().join(name).join("n1")).unwrap();
        }
        let (ok, text) = run(&sweep_folders(b, ANY_RUN, "rl-cccccc"));
        assert!(ok, "{text}");
        assert!(!base.path().join("rl-abc123").exists(), "{text}");
        for kept in ["rl-zzzzzz", "rl-ABC123", "rl-cccccc"] {
            assert!(
                base.path().join(kept).exists(),
                "{kept} is not ours: {text}"
            );
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return; // giving a folder to another user needs root
        }
        let theirs = tempfile::tempdir().unwrap();
        let leftover = theirs.path().join("rl-abc123").join("n1");
        std::fs::create_dir_all(&leftover).unwrap();
        std::os::unix::fs::chown(theirs.path(), Some(65534), Some(65534)).unwrap();
        let t = theirs.path().to_str().unwrap();
        let (ok, _) = run(&sweep_folders(t, ANY_RUN, "rl-cccccc"));
        assert!(!ok, "a base folder owned by another user is refused");
        let (ok, _) = run(&sweep_servers(t, ANY_RUN, "0", "rl-cccccc"));
        assert!(!ok, "a base folder owned by another user is refused");
        assert!(leftover.exists(), "nothing is removed there");
    }

    #[test]
    fn the_remote_base_folder_must_be_ours() {
        let base = tempfile::tempdir().unwrap();
        let b = base.path().join("redline");
        let member = b.join("rl-abcdef").join("n1");
        let (ok, _) = run(&make_dir(b.to_str().unwrap(), member.to_str().unwrap()));
        assert!(ok && member.is_dir());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&b).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
