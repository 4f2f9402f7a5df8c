//! How a failed operation becomes `fail` or `info`: the soundness of every checker rests here.
//!
//! `fail` is a promise that the operation had no effect; `info` admits we do not know. Calling a
//! write `fail` when it may have been applied makes a checker cry wolf (a "failed" add that shows
//! up in the final read) or, worse, miss a lost write. So a write is `fail` only when one of
//! these holds:
//!
//! | what happened | outcome for a write | why |
//! |---|---|---|
//! | no connection / no master known / timed out before the command was sent | `fail` | no byte of the command left the client |
//! | error reply with a refusal code ([`REFUSAL_CODES`]) | `fail` | Redis rejects these in `processCommand` (or in the command's own argument checks) before executing anything |
//! | `ERR unknown command` / `ERR wrong number of arguments` | `fail` | rejected before execution |
//! | cas script returned 0 | `fail`, error `mismatch` | the script compared and did not write (decided in `execute`) |
//! | any other error reply (`ERR ...`, script errors) | `info` | we cannot prove nothing was executed |
//! | timeout after sending, connection reset or closed, any I/O or protocol error after sending | `info` | the command may have been applied |
//! | an error inside an `EXEC` reply (one command failed, others ran) | `info` | a transaction cannot be partly ok in the history |
//!
//! Reads are different: a read that did not return a value changed nothing and observed
//! nothing, so every failed read is `fail`. This is Jepsen's convention for idempotent
//! operations (`jepsen.client/with-errors` fails the ops it is told are idempotent), and it is
//! sound for every checker here: an `info` read would be kept open forever yet constrain nothing,
//! since it carries no value. It also keeps the linearizability search small.

use redis::{ErrorKind, RedisError};
use redline_checkers::OpType;
use std::time::Duration;

/// Error codes with which Redis refuses a command without executing any of it.
///
/// READONLY (write on a replica), NOREPLICAS (`min-replicas-to-write` not met), LOADING (dataset
/// being loaded), MASTERDOWN (`replica-serve-stale-data no` while the link is down), EXECABORT
/// (a queued command was rejected, so EXEC ran nothing), OOM, MISCONF (RDB save failing with
/// `stop-writes-on-bgsave-error`), BUSY (a script is running), NOSCRIPT, NOAUTH, NOPERM,
/// WRONGTYPE (checked before the command touches the key), and the cluster redirections and
/// refusals (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, CROSSSLOT).
pub const REFUSAL_CODES: &[&str] = &[
    "READONLY",
    "NOREPLICAS",
    "LOADING",
    "MASTERDOWN",
    "EXECABORT",
    "OOM",
    "MISCONF",
    "BUSY",
    "NOSCRIPT",
    "NOAUTH",
    "NOPERM",
    "WRONGTYPE",
    "MOVED",
    "ASK",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "CROSSSLOT",
];

/// `ERR` replies that are refusals too, recognised by the start of their message.
const REFUSAL_ERR_PREFIXES: &[&str] = &["unknown command", "wrong number of arguments"];

/// Whether an operation can change the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads: a failure is always `fail`.
    Read,
    /// Writes (and transactions with a write): a failure is `fail` only when provably unapplied.
    Write,
}

/// Why an operation did not complete normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing was sent: no connection, no master known, or time ran out before sending.
    NotSent(String),
    /// The server answered with an error reply `code` (`READONLY`, `ERR`, ...).
    Rejected { code: String, message: String },
    /// The command may have reached the server; what it did is unknown.
    Indeterminate(String),
}

impl Failure {
    /// Classifies a client library error. `sent` says whether a command of this operation had
    /// been handed to the connection when the error came.
    pub fn from_redis(err: &RedisError, sent: bool) -> Failure {
        if !sent {
            return Failure::NotSent(err.to_string());
        }
        match (err.kind(), err.code()) {
            // A server error reply: the server read and answered the command.
            (ErrorKind::Server(_) | ErrorKind::Extension, Some(code)) => Failure::Rejected {
                code: code.to_string(),
                message: err.detail().unwrap_or_default().to_string(),
            },
            // I/O, parse, client and type errors after sending: the command may have run.
            _ => Failure::Indeterminate(err.to_string()),
        }
    }

    /// The operation's time bound elapsed.
    pub fn timed_out(after: Duration, sent: bool) -> Failure {
        if sent {
            Failure::Indeterminate(format!("timed out after {after:?} waiting for a reply"))
        } else {
            Failure::NotSent(format!("timed out after {after:?} before sending"))
        }
    }

    /// Whether the server provably executed nothing.
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            Failure::NotSent(_) => true,
            Failure::Indeterminate(_) => false,
            Failure::Rejected { code, message } => {
                REFUSAL_CODES.contains(&code.as_str())
                    || (code == "ERR"
                        && REFUSAL_ERR_PREFIXES
                            .iter()
                            .any(|p| message.to_ascii_lowercase().starts_with(p)))
            }
        }
    }

    /// `fail` or `info` for an operation with `effect` that ended in this failure.
    pub fn outcome(&self, effect: Effect) -> OpType {
        match effect {
            Effect::Read => OpType::Fail,
            Effect::Write if self.certainly_not_applied() => OpType::Fail,
            Effect::Write => OpType::Info,
        }
    }

    /// The text for the history's `error` field, e.g. `READONLY You can't write against a
    /// read only replica.` or `connection refused`.
    pub fn message(&self) -> String {
        match self {
            Failure::NotSent(m) | Failure::Indeterminate(m) => m.clone(),
            Failure::Rejected { code, message } if message.is_empty() => code.clone(),
            Failure::Rejected { code, message } => format!("{code} {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::make_extension_error;
    use std::io;

    fn server(code: &str, detail: &str) -> RedisError {
        make_extension_error(code.to_string(), Some(detail.to_string()))
    }

    fn io(kind: io::ErrorKind) -> RedisError {
        RedisError::from(io::Error::new(kind, "boom"))
    }

    fn write_outcome(err: RedisError, sent: bool) -> OpType {
        Failure::from_redis(&err, sent).outcome(Effect::Write)
    }

    #[test]
    fn refusals_are_fail() {
        for code in [
            "READONLY",
            "NOREPLICAS",
            "LOADING",
            "MASTERDOWN",
            "EXECABORT",
            "OOM",
        ] {
            assert_eq!(
                write_outcome(server(code, "no"), true),
                OpType::Fail,
                "{code}"
            );
        }
        let unknown = server(
            "ERR",
            "unknown command 'WAITAOF', with args beginning with: ",
        );
        assert_eq!(write_outcome(unknown, true), OpType::Fail);
        let arity = server("ERR", "wrong number of arguments for 'set' command");
        assert_eq!(write_outcome(arity, true), OpType::Fail);
    }

    #[test]
    fn other_error_replies_on_writes_are_info() {
        let script = server(
            "ERR",
            "Error running script (call to f_...): @user_script:1",
        );
        assert_eq!(write_outcome(script, true), OpType::Info);
        assert_eq!(
            write_outcome(server("WEIRD", "new code"), true),
            OpType::Info
        );
    }

    #[test]
    fn io_errors_after_sending_are_info_before_sending_fail() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::TimedOut,
        ] {
            assert_eq!(write_outcome(io(kind), true), OpType::Info, "{kind:?}");
            assert_eq!(write_outcome(io(kind), false), OpType::Fail, "{kind:?}");
        }
        let refused = io(io::ErrorKind::ConnectionRefused);
        assert_eq!(write_outcome(refused, false), OpType::Fail);
        let dropped = RedisError::from((ErrorKind::Io, "Connection dropped"));
        assert_eq!(write_outcome(dropped, true), OpType::Info);
        let parse = RedisError::from((ErrorKind::Parse, "bad reply"));
        assert_eq!(write_outcome(parse, true), OpType::Info);
    }

    #[test]
    fn timeouts_depend_on_whether_the_command_left() {
        let d = Duration::from_millis(300);
        assert_eq!(
            Failure::timed_out(d, true).outcome(Effect::Write),
            OpType::Info
        );
        assert_eq!(
            Failure::timed_out(d, false).outcome(Effect::Write),
            OpType::Fail
        );
    }

    #[test]
    fn failed_reads_are_always_fail() {
        for failure in [
            Failure::timed_out(Duration::from_secs(1), true),
            Failure::from_redis(&io(io::ErrorKind::ConnectionReset), true),
            Failure::from_redis(&server("ERR", "anything"), true),
        ] {
            assert_eq!(failure.outcome(Effect::Read), OpType::Fail);
        }
    }

    #[test]
    fn messages_keep_the_code() {
        let f = Failure::from_redis(&server("READONLY", "You can't write"), true);
        assert_eq!(f.message(), "READONLY You can't write");
    }
}
