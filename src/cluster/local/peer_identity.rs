//! Which process opened a loopback connection: the proxy's way of telling a replica's
//! replication link from a Sentinel's probe or a client's request when all of them arrive at the
//! same node address.
//!
//! On Linux, `/proc/net/tcp` maps the connecting socket's local address to an inode, and
//! `/proc/<pid>/fd` maps inodes to processes. redline knows the pid of every server it started,
//! so a lookup over those few processes names the party. This is what lets one proxy per node
//! carry every link class while partitions still cut replica->master, sentinel->node and
//! client->node links separately, and it keeps working when Sentinel repoints replicas to
//! addresses redline did not choose.

use std::collections::HashMap;
use std::net::SocketAddr;

/// Finds the socket inode whose local end is `peer` and remote end is `local` (the proxy's
/// listening address), from the text of `/proc/net/tcp`.
pub fn socket_inode(proc_net_tcp: &str, peer: SocketAddr, local: SocketAddr) -> Option<u64> {
    let want_local = hex_addr(peer)?;
    let want_remote = hex_addr(local)?;
    proc_net_tcp.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
        if fields.len() > 9 && fields[1] == want_local && fields[2] == want_remote {
            fields[9].parse().ok()
        } else {
            None
        }
    })
}

/// `127.0.0.1:6379` as `/proc/net/tcp` writes it: `0100007F:18EB`.
fn hex_addr(addr: SocketAddr) -> Option<String> {
    match addr {
        SocketAddr::V4(v4) => {
            let ip = u32::from_le_bytes(v4.ip().octets());
            Some(format!("{ip:08X}:{:04X}", v4.port()))
        }
        SocketAddr::V6(_) => None,
    }
}

/// Which of `pids` holds the socket with `inode` open.
pub fn owner_of_inode(inode: u64, pids: &[u32]) -> Option<u32> {
    let needle = format!("socket:[{inode}]");
    pids.iter().copied().find(|pid| {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        dir.flatten().any(|entry| {
            std::fs::read_link(entry.path())
                .map(|target| target.as_os_str() == needle.as_str())
                .unwrap_or(false)
        })
    })
}

/// Names the process that connected from `peer` to the proxy listening at `local`, among the
/// processes in `known` (pid -> who). `None` when it is none of them (e.g. redline's own
/// clients) or the lookup raced with the connection closing.
pub fn identify<T: Clone>(
    peer: SocketAddr,
    local: SocketAddr,
    known: &HashMap<u32, T>,
) -> Option<T> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = socket_inode(&table, peer, local)?;
    if inode == 0 {
        return None;
    }
    let pids: Vec<u32> = known.keys().copied().collect();
    owner_of_inode(inode, &pids).and_then(|pid| known.get(&pid).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn finds_the_connecting_socket() {
        let peer: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(socket_inode(SAMPLE, peer, local), Some(4242));
        let other: SocketAddr = "127.0.0.1:54322".parse().unwrap();
        assert_eq!(socket_inode(SAMPLE, other, local), None);
    }

    #[test]
    fn identifies_a_real_connection_from_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let _client = std::net::TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        let me = std::process::id();
        let known = HashMap::from([(me, "me".to_string())]);
        assert_eq!(identify(peer, local, &known).as_deref(), Some("me"));
        let strangers = HashMap::from([(1u32, "init".to_string())]);
        assert_eq!(identify(peer, local, &strangers), None);
    }
}
