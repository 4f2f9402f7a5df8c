//! The shell scripts redline runs on the hosts, as pure functions of their inputs (so they can
//! be read and tested here). POSIX `sh`, Debian's `mawk`, coreutils and procps-free `/proc`
//! reads only: nothing beyond what a minimal Debian or Ubuntu server has.
//!
//! A server redline started is recognised by its pid file *and* its working directory (redline
//! starts every server in its member folder and the config keeps it there), so a recycled pid
//! never gets a signal meant for a server that is gone.

use std::fmt::Write as _;

/// Quotes `text` for `sh` (single quotes; an embedded `'` becomes `'\''`).
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The shell prelude that defines `ours PID DIR` (true when PID is a live process working in
/// DIR) for the scripts below.
fn prelude() -> &'static str {
    "ours() { [ -n \"$1\" ] && [ -d \"/proc/$1\" ] && [ \"$(readlink \"/proc/$1/cwd\" 2>/dev/null)\" = \"$(cd \"$2\" 2>/dev/null && pwd -P)\" ]; }\n"
}

/// Checks the tools a member needs: the server binary (`bin`) and, for partitions, `nft`.
/// Prints `nft` when nft is there.
pub fn preflight(bin: &str) -> String {
    format!(
        "command -v {b} >/dev/null 2>&1 || {{ echo \"{bin} not found on this host: install redis-server (Debian/Ubuntu: apt-get install -y redis-server redis-sentinel) or give its path with --server-bin\" >&2; exit 3; }}\n\
         command -v nft >/dev/null 2>&1 && echo nft\n\
         true\n",
        b = quote(bin)
    )
}

/// Removes what earlier runs left on a host: kills servers whose pid files are in a run folder
/// matching `run_glob` under `base` (and that still work there), deletes nftables tables
/// accepted by the awk condition `table_test` on `$3`, and removes those run folders; the
/// folder named `keep` (the current run's, when hosts share a filesystem) is left alone. Prints
/// one line per thing removed.
pub fn sweep(base: &str, run_glob: &str, table_test: &str, keep: &str) -> String {
    let mut s = String::from(prelude());
    let _ = writeln!(s, "base={}; keep={}", quote(base), quote(keep));
    let _ = writeln!(
        s,
        "for f in \"$base\"/{run_glob}/*/pid; do\n\
         \t[ -f \"$f\" ] || continue\n\
         \tcase \"$f\" in \"$base/$keep/\"*) continue;; esac\n\
         \td=$(dirname \"$f\"); pid=$(cat \"$f\")\n\
         \tif ours \"$pid\" \"$d\"; then kill -KILL \"$pid\" && echo \"killed $pid ($d)\"; fi\n\
         done"
    );
    let _ = writeln!(
        s,
        "if command -v nft >/dev/null 2>&1; then\n\
         \tfor t in $(nft list tables 2>/dev/null | awk '$2 == \"inet\" && ({table_test}) {{ print $3 }}'); do\n\
         \t\tnft delete table inet \"$t\" && echo \"deleted table inet $t\"\n\
         \tdone\n\
         fi"
    );
    let _ = writeln!(
        s,
        "for d in \"$base\"/{run_glob}; do [ -d \"$d\" ] && [ \"$d\" != \"$base/$keep\" ] && rm -rf \"$d\" && echo \"removed $d\"; done\ntrue"
    );
    s
}

/// The awk test matching every table redline creates (`redline_` and six hex digits).
pub const ANY_REDLINE_TABLE: &str =
    "$3 ~ /^redline_[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/";

/// The run-folder glob matching every run (`rl-` and six characters).
pub const ANY_RUN: &str = "rl-??????";

/// Creates a member folder (fresh) and nothing else.
pub fn make_dir(dir: &str) -> String {
    format!("rm -rf {d} && mkdir -p {d}\n", d = quote(dir))
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

/// Writes stdin to `path`.
pub fn write_file(path: &str) -> String {
    format!("cat > {}\n", quote(path))
}

/// Starts `bin args..` in `dir`, detached (own session, stdio to `stdout.log`), records its pid
/// in `dir/pid` and prints it. Refuses when the member's server is already running.
pub fn start(dir: &str, bin: &str, args: &[&str]) -> String {
    let mut s = String::from(prelude());
    let _ = writeln!(s, "d={}; cd \"$d\" || exit 1", quote(dir));
    let _ = writeln!(
        s,
        "if [ -f pid ] && ours \"$(cat pid)\" \"$d\"; then echo \"already running as $(cat pid)\" >&2; exit 1; fi"
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

/// Sends `signal` (`KILL`, `STOP`, `CONT`) to the member's server if it is still ours; for
/// `KILL`, waits up to 2 s for it to be gone.
pub fn signal(dir: &str, pid: u32, signal: &str) -> String {
    let mut s = String::from(prelude());
    let _ = writeln!(
        s,
        "d={}; pid={pid}\nours \"$pid\" \"$d\" || exit 0\nkill -{signal} \"$pid\"",
        quote(dir)
    );
    if signal == "KILL" {
        let _ = writeln!(
            s,
            "i=0; while [ -d \"/proc/$pid\" ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done"
        );
    }
    s
}

/// Prints the member's server state: `running`, `paused` or `dead`.
pub fn probe(dir: &str, pid: u32) -> String {
    let mut s = String::from(prelude());
    let _ = writeln!(
        s,
        "d={}; pid={pid}\n\
         ours \"$pid\" \"$d\" || {{ echo dead; exit 0; }}\n\
         state=$(sed 's/.*) //' \"/proc/$pid/stat\" | cut -d' ' -f1)\n\
         case \"$state\" in T|t) echo paused;; Z|X|x) echo dead;; *) echo running;; esac",
        quote(dir)
    );
    s
}

/// Prints the last `lines` lines of `file` (for error messages), or nothing.
pub fn tail(file: &str, lines: usize) -> String {
    format!("tail -n {lines} {} 2>/dev/null; true\n", quote(file))
}

/// Prints `file`, or nothing when it does not exist.
pub fn cat(file: &str) -> String {
    format!("cat {} 2>/dev/null; true\n", quote(file))
}

/// Replaces the run's nftables table with `script` (an `nft -f` script on stdin).
pub fn nft_load() -> &'static str {
    "nft -f -\n"
}

/// Deletes table `inet <table>` if it exists.
pub fn nft_delete(table: &str) -> String {
    format!(
        "if nft list table inet {t} >/dev/null 2>&1; then nft delete table inet {t}; fi\n",
        t = quote(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
            sweep("/tmp/redline", ANY_RUN, ANY_REDLINE_TABLE, "rl-000000"),
            sweep("/tmp/red'line", "rl-abcdef", "$3 == \"redline_abcdef\"", ""),
            make_dir("/tmp/redline/rl-abcdef/n1"),
            remove_dir("/tmp/redline/rl-abcdef/n1", "/tmp/redline/rl-abcdef"),
            write_file("/tmp/x y/redis.conf"),
            start(
                "/tmp/redline/rl-abcdef/n1",
                "redis-server",
                &["/tmp/redline/rl-abcdef/n1/redis.conf"],
            ),
            signal("/tmp/d", 42, "KILL"),
            signal("/tmp/d", 42, "STOP"),
            probe("/tmp/d", 42),
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
    fn start_probe_and_signal_act_only_on_our_process() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let run = |script: &str| {
            let out = std::process::Command::new("sh")
                .args(["-c", script])
                .output()
                .unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            )
        };
        let (ok, pid) = run(&start(d, "sleep", &["30"]));
        assert!(ok);
        let pid: u32 = pid.parse().unwrap();
        assert_eq!(run(&probe(d, pid)).1, "running");
        assert!(
            !run(&start(d, "sleep", &["30"])).0,
            "a second start is refused"
        );
        run(&signal(d, pid, "STOP"));
        assert_eq!(run(&probe(d, pid)).1, "paused");
        run(&signal(d, pid, "CONT"));
        // A pid that works elsewhere is not ours: probe says dead, signals do nothing.
        let other = tempfile::tempdir().unwrap();
        assert_eq!(run(&probe(other.path().to_str().unwrap(), pid)).1, "dead");
        run(&signal(other.path().to_str().unwrap(), pid, "KILL"));
        assert_eq!(run(&probe(d, pid)).1, "running");
        run(&signal(d, pid, "KILL"));
        assert_eq!(run(&probe(d, pid)).1, "dead");
    }

    #[test]
    fn sweep_kills_leftover_servers_and_removes_their_folders() {
        let base = tempfile::tempdir().unwrap();
        let member = base.path().join("rl-abc123").join("n1");
        std::fs::create_dir_all(&member).unwrap();
        let m = member.to_str().unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", &start(m, "sleep", &["30"])])
            .output()
            .unwrap();
        let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let keep = base.path().join("not-a-run");
        std::fs::create_dir_all(&keep).unwrap();
        let current = base.path().join("rl-cccccc").join("n1");
        std::fs::create_dir_all(&current).unwrap();
        // No nft tables are touched here: the awk test matches nothing.
        let script = sweep(base.path().to_str().unwrap(), ANY_RUN, "0", "rl-cccccc");
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("killed {pid}")), "{text}");
        assert!(!member.exists() && keep.exists() && current.exists());
        let gone = (0..40).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z"))
        });
        assert!(gone, "the leftover server was killed");
    }
}
