//! Measures what redline's proxy costs per operation: `redis-benchmark -t sadd` against a node's
//! real port and against its proxy, on the same running cluster, one after the other.
//!
//! Run: `cargo run --release --example proxy_overhead -- [requests] [clients]`

use redline::cluster::backend::Backend as _;
use redline::cluster::{ClusterSpec, LocalCluster};
use std::process::Command;

fn bench(port: u16, requests: &str, clients: &str) -> String {
    let out = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "sadd",
            "-n",
            requests,
            "-c",
            clients,
            "-q",
        ])
        .output()
        .expect("redis-benchmark (Debian package redis-tools) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.rsplit('\r').next().unwrap_or(&text).trim().to_string()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let requests = args.get(1).cloned().unwrap_or_else(|| "200000".into());
    let clients = args.get(2).cloned().unwrap_or_else(|| "10".into());
    let dir = tempfile::tempdir()?;
    let server = redline::provision::locate_server(None, true)?;
    let cluster = LocalCluster::start(ClusterSpec {
        replicas: 2,
        sentinels: 0,
        server_bin: server.path,
        redis_options: vec![("save".into(), "".into())],
        redis_conf: None,
        run_dir: dir.path().to_path_buf(),
        sentinel_down_after_ms: 1000,
        sentinel_failover_timeout_ms: 3000,
        link_faults: true,
    })
    .await?;
    let real = cluster.admin_addr("n1").expect("n1").port();
    let proxy = cluster.client_addr("n1").expect("n1").port();
    // The benchmark blocks; run it off the runtime so the proxy's tasks keep running.
    let (r, c) = (requests.clone(), clients.clone());
    let direct = tokio::task::spawn_blocking(move || bench(real, &r, &c)).await?;
    let proxied = tokio::task::spawn_blocking(move || bench(proxy, &requests, &clients)).await?;
    println!("direct to n1 (port {real}):   {direct}");
    println!("through the proxy ({proxy}): {proxied}");
    Ok(())
}
