//! Redis Cluster's key → slot function: CRC16 (XMODEM) of the key, or of its hash tag, modulo
//! 16384. A hash tag is the part between the first `{` and the first `}` after it, when that
//! part is not empty: keys that share a tag share a slot, which is how a transaction's keys
//! stay on one node.

/// The number of hash slots.
pub const SLOTS: u16 = 16384;

/// The slots shard `shard` (1-based) of `shards` starts with, `(first, last)` inclusive: an
/// even split of the 16384, shard 1 first. The harness assigns them so when it forms a
/// cluster, and the workloads choose hash tags by it so that every shard gets keys.
pub fn initial_slots(shard: usize, shards: usize) -> (u16, u16) {
    let shards = shards.max(1);
    let shard = shard.clamp(1, shards);
    let total = SLOTS as usize;
    let first = (shard - 1) * total / shards;
    let last = shard * total / shards - 1;
    (first as u16, last as u16)
}

/// The slot of `key`.
pub fn hash_slot(key: &[u8]) -> u16 {
    crc16(hashed_part(key)) % SLOTS
}

/// The bytes of `key` that decide its slot: its hash tag, or the whole key.
pub fn hashed_part(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(len) if len > 0 => &key[open + 1..open + 1 + len],
        _ => key,
    }
}

/// CRC16-CCITT as Redis computes it (XMODEM: polynomial 0x1021, initial value 0).
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis() {
        // The reference value of Redis's crc16.c, and slots CLUSTER KEYSLOT gives.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"{user1000}.following"), hash_slot(b"user1000"));
        assert_eq!(hash_slot(b"foo{}{bar}"), hash_slot(b"foo{}{bar}"));
        assert_eq!(hashed_part(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hashed_part(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hashed_part(b"foo{bar}{zap}"), b"bar");
    }
}
