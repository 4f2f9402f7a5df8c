//! The `redline` binary: parse the command line, run the subcommand, exit 0/1/2.

use clap::Parser;
use redline::cli::{Cli, Command};
use redline::commands;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // The commands that only read files and print behave like any Unix filter: `redline runs
    // | head -1` ends quietly when the reader goes away instead of panicking on a broken pipe.
    // The others keep Rust's default (SIGPIPE ignored): they talk to servers and proxies, where
    // a peer that closed its socket is an error to handle, and a death by SIGPIPE would leave
    // the run's servers and faults behind.
    if matches!(
        cli.command,
        Command::Check(_) | Command::Report(_) | Command::Runs(_)
    ) {
        // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REDLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let code = match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("redline: error: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

fn run(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Check(args) => commands::check::run(&args),
        Command::Report(args) => commands::report::run(&args),
        Command::Runs(args) => commands::runs::list(&args),
        Command::Cleanup(args) => commands::runs::cleanup(&args),
        Command::Servers(args) => commands::servers::run(&args),
        Command::Test(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(commands::test::run(&args))
        }
        Command::Suite(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(commands::suite::run(&args))
        }
    }
}
