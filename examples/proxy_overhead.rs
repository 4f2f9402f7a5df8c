//! Measures what redline's proxy costs: `redis-benchmark` against a node's real port and against
//! its proxy, on the same running cluster (one with proxies: as a run whose faults can cut or
//! delay links has them), one after the other.
//!
//! Prints one line per figure (`direct <requests/s>`, `proxied <requests/s>`), their ratio, and
//! the proxy's CPU time per request (this process runs only the proxies while the benchmark
//! goes through them), which the machine's other load hardly changes.
//!
//! Where `haproxy` is installed (Debian package `haproxy`), the same benchmark also goes
//! through HAProxy in TCP mode in front of the same node (`haproxy <requests/s>`, its ratio to
//! direct and its CPU per request): a peer measured side by side, so the proxy's figure can be
//! read against what a mature C relay costs on the same machine.
//!
//! Run: `cargo run --release --example proxy_overhead -- [requests] [clients] [tests]`
//! (defaults 200000, 10, `sadd`; `tests` is redis-benchmark's `-t` list).

use anyhow::Context;
use redline::cluster::backend::Backend as _;
use redline::cluster::{ClusterSpec, LocalCluster};
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Requests per second of each test in `tests`, as redis-benchmark reports them.
fn bench(port: u16, requests: &str, clients: &str, tests: &str) -> anyhow::Result<Vec<f64>> {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-t", tests, "-n", requests, "-c", clients, "-q"])
        .output()
        .context("running redis-benchmark (Debian package redis-tools)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `-q` prints "SADD: 123.45 requests per second, ..." after progress lines ending in CR.
    let figures: Vec<f64> = text
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    if figures.is_empty() {
        anyhow::bail!("no figure in redis-benchmark's output: {text}");
    }
    Ok(figures)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let requests = args.get(1).cloned().unwrap_or_else(|| "200000".into());
    let clients = args.get(2).cloned().unwrap_or_else(|| "10".into());
    let tests = args.get(3).cloned().unwrap_or_else(|| "sadd".into());
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
        sharding: None,
        link_faults: true,
        lazy_disk: None,
    })
    .await?;
    let real = cluster.admin_addr("n1").context("n1")?.port();
    let proxy = cluster.client_addr("n1").context("n1")?.port();
    // The benchmark blocks; run it off the runtime so the proxy's tasks keep running.
    let (r, c, t) = (requests.clone(), clients.clone(), tests.clone());
    let direct = tokio::task::spawn_blocking(move || bench(real, &r, &c, &t)).await??;
    let n: f64 = requests.parse().context("requests must be a number")?;
    let me = std::process::id();
    let before = cpu_seconds(me)?;
    let (r, c, t) = (requests.clone(), clients.clone(), tests.clone());
    let proxied = tokio::task::spawn_blocking(move || bench(proxy, &r, &c, &t)).await??;
    // This process runs nothing else meanwhile: its CPU time is the proxies'.
    let proxy_cpu = cpu_seconds(me)? - before;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!("direct {:.0}", mean(&direct));
    println!("proxied {:.0}", mean(&proxied));
    println!("ratio {:.2}", mean(&proxied) / mean(&direct));
    // A figure the machine's other load hardly moves: what one request costs the proxy.
    let runs = proxied.len() as f64;
    println!(
        "proxy_cpu_us_per_request {:.2}",
        proxy_cpu * 1e6 / (n * runs)
    );
    match Haproxy::start(real, dir.path()) {
        Ok(None) => println!("haproxy not installed (Debian package haproxy): no peer figure"),
        // The peer is a yardstick: without it the proxy's own figures still stand.
        Err(e) => println!("haproxy did not start ({e:#}): no peer figure"),
        Ok(Some(peer)) => {
            let before = cpu_seconds(peer.child.id())?;
            let port = peer.port;
            let through =
                tokio::task::spawn_blocking(move || bench(port, &requests, &clients, &tests))
                    .await??;
            let cpu = cpu_seconds(peer.child.id())? - before;
            println!("haproxy {:.0}", mean(&through));
            println!("haproxy_ratio {:.2}", mean(&through) / mean(&direct));
            println!(
                "haproxy_cpu_us_per_request {:.2}",
                cpu * 1e6 / (n * through.len() as f64)
            );
        }
    }
    Ok(())
}

/// HAProxy relaying a port of its own to `upstream`, stopped when dropped.
struct Haproxy {
    child: Child,
    port: u16,
}

impl Haproxy {
    /// Starts HAProxy in TCP mode (kernel splicing where it judges it worth it, its default
    /// threads) in front of `upstream`; `None` when it is not installed.
    fn start(upstream: u16, dir: &Path) -> anyhow::Result<Option<Haproxy>> {
        if Command::new("haproxy").arg("-v").output().is_err() {
            return Ok(None);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = dir.join("haproxy.cfg");
        let mut f = std::fs::File::create(&config)?;
        writeln!(
            f,
            "global\n  maxconn 1000\ndefaults\n  mode tcp\n  option splice-auto\n  \
             timeout connect 5s\n  timeout client 10m\n  timeout server 10m\n\
             listen redis\n  bind 127.0.0.1:{port}\n  server n1 127.0.0.1:{upstream}"
        )?;
        let child = Command::new("haproxy")
            .args(["-db", "-q", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .context("starting haproxy")?;
        let mut peer = Haproxy { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = peer.child.try_wait()? {
                anyhow::bail!("haproxy exited with {status}");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "haproxy did not listen on {port} within 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Some(peer))
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system CPU time of process `pid` (all its threads, not its children), in seconds.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which ends in ')'): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let mut field = || fields.next().context("short /proc stat line");
    let ticks: f64 = field()?.parse::<f64>()? + field()?.parse::<f64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks / hz)
}
