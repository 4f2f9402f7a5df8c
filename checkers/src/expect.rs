//! PLACEHOLDER: `--expect` rules are being written; this stub only keeps the crate building.
