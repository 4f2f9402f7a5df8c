//! Owning what a run spawns. Background work (telemetry, the progress line) is spawned into a
//! [`Background`] set that the run's pipeline owns: whichever way the pipeline leaves — done,
//! an error from heal or converge, a panic — dropping the set aborts every task in it, so a
//! suite running many tests in one runtime accumulates none. Panics of the tasks the run waits
//! for (clients, the nemesis) are caught and become a reason the run is incomplete.

use std::any::Any;
use tokio::task::JoinSet;

/// Tasks that live as long as the run's pipeline holds this set, and no longer.
pub type Background = JoinSet<()>;

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(
            || "a panic without a message".to_string(),
            |s| s.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_either_payload() {
        assert_eq!(panic_message(Box::new("boom")), "boom");
        assert_eq!(panic_message(Box::new(String::from("bang"))), "bang");
        assert_eq!(panic_message(Box::new(3)), "a panic without a message");
    }
}
