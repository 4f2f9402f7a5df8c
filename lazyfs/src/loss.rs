//! What a power loss dropped: per file, the bytes that never reached the disk; per directory
//! entry, the operation taken back. It goes into the nemesis record of the fault, so a lost
//! write can be matched with the bytes that carried it.

use serde::Serialize;
use std::path::PathBuf;

/// What one power loss took back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Loss {
    /// Files whose unsynced data was dropped, by path in the layer.
    pub files: Vec<FileLoss>,
    /// Directory entry operations taken back, newest first, in words
    /// (`"created appendonlydir/temp-1.aof"`).
    pub entries: Vec<String>,
    /// What could not be taken back (the disk then holds more than a real one would).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// One file's unsynced data, dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileLoss {
    /// The file's path in the layer when it was last written.
    pub path: PathBuf,
    /// Its size when it was last made durable, which it has again.
    pub synced_len: u64,
    /// Bytes past that size that were dropped (appends never synced).
    pub dropped_bytes: u64,
    /// Bytes inside that size that were overwritten or cut and are restored.
    pub restored_bytes: u64,
}

impl Loss {
    /// Whether nothing was unsynced.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.entries.is_empty()
    }

    /// One line for a log: `2 files (5123 bytes dropped), 1 entry`.
    pub fn summary(&self) -> String {
        let dropped: u64 = self.files.iter().map(|f| f.dropped_bytes).sum();
        let restored: u64 = self.files.iter().map(|f| f.restored_bytes).sum();
        let mut text = format!(
            "{} file(s) ({dropped} bytes dropped, {restored} restored), {} entry operation(s) undone",
            self.files.len(),
            self.entries.len()
        );
        if !self.failures.is_empty() {
            text.push_str(&format!("; could not undo: {}", self.failures.join("; ")));
        }
        text
    }
}
