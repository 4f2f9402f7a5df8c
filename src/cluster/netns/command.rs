//! Running the system tools the netns backend drives (`ip`, `nft`), with errors that say which
//! command failed and what it printed.

use anyhow::{bail, Context, Result};
use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs `program args..` to completion and returns its stdout; a non-zero exit is an error that
/// quotes the command line and its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program} (is it installed and on PATH?)"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Like [`run`], with `input` on the program's stdin (for `nft -f -`).
pub fn run_with_input(program: &str, args: &[&str], input: &str) -> Result<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {program} (is it installed and on PATH?)"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .with_context(|| format!("writing to {program}'s stdin"))?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}\ninput was:\n{input}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip args..`
pub fn ip(args: &[&str]) -> Result<String> {
    run("ip", args)
}

/// `nft args..` run inside network namespace `namespace`.
pub fn nft_in(namespace: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["netns", "exec", namespace, "nft"];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// Whether an error only says that the thing to remove is already gone; removal treats that as
/// success, so teardown and cleanup are idempotent.
pub fn already_gone(error: &anyhow::Error) -> bool {
    let text = format!("{error:#}");
    [
        "Cannot find device",
        "No such file or directory",
        "does not exist",
        "Invalid \"netns\" value",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}
