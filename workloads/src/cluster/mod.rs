//! Redis Cluster, as an application's client sees it (`--topology cluster`).
//!
//! - [`slot`]: the key → slot function (CRC16, hash tags).
pub mod slot;
