//! Finding the server binary, and installing Debian's packages when there is none.
//!
//! Order: `--server-bin`, then `$REDLINE_REDIS_SERVER`, then `redis-server` on PATH. When none
//! is found on Debian or Ubuntu as root, redline installs `redis-server` and `redis-sentinel`
//! with apt-get, saying so, and keeps the distribution's own service from starting (a
//! temporary `policy-rc.d`); elsewhere it stops with the exact command to run.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The install command printed when redline cannot install by itself.
pub const INSTALL_HINT: &str =
    "sudo apt-get update && sudo apt-get install -y redis-server redis-sentinel";

/// Where the server binary came from, for `test.json`.
#[derive(Debug, Clone)]
pub struct ServerBinary {
    pub path: PathBuf,
    pub source: &'static str,
}

/// Finds the server binary, installing Debian's packages if allowed and needed.
pub fn locate_server(explicit: Option<&Path>, allow_install: bool) -> Result<ServerBinary> {
    if let Some(p) = explicit {
        return check_executable(p, "--server-bin");
    }
    if let Some(p) = std::env::var_os("REDLINE_REDIS_SERVER").filter(|v| !v.is_empty()) {
        return check_executable(Path::new(&p), "REDLINE_REDIS_SERVER");
    }
    if let Some(p) = which("redis-server") {
        return Ok(ServerBinary {
            path: p,
            source: "PATH",
        });
    }
    if allow_install && can_apt_install() {
        install_with_apt()?;
        if let Some(p) = which("redis-server") {
            return Ok(ServerBinary {
                path: p,
                source: "apt-get install (by redline)",
            });
        }
    }
    bail!(
        "no redis-server found (looked at --server-bin, $REDLINE_REDIS_SERVER and PATH).\n\
         Install it with:\n    {INSTALL_HINT}\n\
         or point redline at any redis-server-compatible binary with --server-bin PATH"
    )
}

fn check_executable(p: &Path, origin: &'static str) -> Result<ServerBinary> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(p).with_context(|| format!("{origin} {}: no such file", p.display()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        bail!("{origin} {} is not an executable file", p.display());
    }
    // Absolute, because each server starts in its node folder: a relative path such as
    // `.servers/bin/redis-server` would be looked up from there.
    let path = std::path::absolute(p).with_context(|| format!("{origin} {}", p.display()))?;
    Ok(ServerBinary {
        path,
        source: origin,
    })
}

/// `which NAME` over PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn can_apt_install() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && Path::new("/etc/debian_version").exists() && which("apt-get").is_some()
}

fn install_with_apt() -> Result<()> {
    eprintln!("redline: redis-server is missing; installing Debian's redis-server and redis-sentinel with apt-get");
    // Keep the packages' service from starting: redline runs its own processes.
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let placed_policy =
        !policy.exists() && std::fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok() && {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755)).is_ok()
        };
    let result = (|| {
        run(Command::new("apt-get").arg("update").arg("-q"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-q", "redis-server", "redis-sentinel"])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    })();
    if placed_policy {
        let _ = std::fs::remove_file(policy);
    }
    result
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status}); install by hand with:\n    {INSTALL_HINT}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_explicit_binary_is_a_clear_error() {
        let err = locate_server(Some(Path::new("/nonexistent/redis-server")), false).unwrap_err();
        assert!(
            err.to_string()
                .contains("--server-bin /nonexistent/redis-server"),
            "{err}"
        );
    }

    #[test]
    fn a_non_executable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("redis-server");
        std::fs::write(&f, "not a program").unwrap();
        let err = locate_server(Some(&f), false).unwrap_err();
        assert!(err.to_string().contains("not an executable"), "{err}");
    }
}
