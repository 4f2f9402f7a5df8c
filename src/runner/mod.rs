//! The life of one test run, as one pipeline (Jepsen's `run!`): set up the cluster, run the
//! workload and the nemesis while the history is recorded, heal, converge, take final reads,
//! tear down, then check and report. The cluster is a guard: whatever path leaves
//! [`run_test`] (success, error, panic, Ctrl-C), every process it started is stopped.
//!
//! - [`clients`]: the client loop (processes, `info` hand-over, rate limiting).
//! - [`telemetry`]: `INFO replication` samples into `telemetry.jsonl`.
//! - [`final_phase`]: heal, converge, final reads.
//! - [`progress`]: the progress line.
//! - [`test_json`]: what `test.json` records about the run.

pub mod clients;
pub mod final_phase;
pub mod progress;
pub mod telemetry;
pub mod test_json;

use crate::analysis::{self, Analysis, AnalysisRequest};
use crate::cluster::backend::Backend;
use crate::cluster::capabilities::READY_TIMEOUT;
use crate::cluster::links::Delay;
use crate::cluster::netns::NetnsCluster;
use crate::cluster::ssh::SshCluster;
use crate::cluster::{features, sentinel_events};
use crate::cluster::{ClusterSpec, LocalCluster};
use crate::config::{Net, Plan};
use crate::nemesis::driver::{ActiveFaults, Nemesis};
use crate::nemesis::schedule::{self, Step};
use crate::provision;
use crate::recorder::Recorder;
use crate::shutdown::Shutdown;
use crate::store::{self, RunDir};
use anyhow::{Context, Result};
use clients::{ClientRun, Counters};
use redline_workloads::{Generator, ReadFrom};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use test_json::TestRecord;
use tokio::time::Instant;

/// What a finished run hands back to the CLI.
pub struct RunOutcome {
    pub run_dir: RunDir,
    pub analysis: Analysis,
    pub record: TestRecord,
    /// The run was cut short by a signal: its verdict cannot be trusted to be complete.
    pub interrupted: bool,
}

/// Runs one test end to end. `run_dir_tx` learns the run folder as soon as it exists (the
/// signal handler's second-signal path needs it).
pub async fn run_test(
    plan: &Plan,
    shutdown: Shutdown,
    run_dir_tx: &tokio::sync::watch::Sender<Option<std::path::PathBuf>>,
) -> Result<RunOutcome> {
    let server = match plan.net {
        // The server runs on the hosts: --server-bin names it there, and the hosts check it.
        Net::Ssh => provision::ServerBinary {
            path: plan
                .config
                .server_bin
                .clone()
                .unwrap_or_else(|| "redis-server".into()),
            source: "on the SSH hosts",
        },
        Net::Local | Net::Netns => {
            provision::locate_server(plan.config.server_bin.as_deref(), true)?
        }
    };
    let run_dir = RunDir::create(&plan.config.store, &plan.name)?;
    run_dir_tx.send_replace(Some(run_dir.path.clone()));
    let steps = schedule::plan(
        &plan.nemesis,
        plan.seed,
        plan.config.time_limit,
        plan.config.nemesis_interval,
        plan.fault_duration,
    );
    let mut record = TestRecord::new(plan, &server, &steps);
    record.write(&run_dir)?;

    let spec = cluster_spec(plan, &server.path, &run_dir);
    let started = std::time::Instant::now();
    let ran = match plan.net {
        Net::Local => {
            let cluster = LocalCluster::start(spec).await?;
            run_on(cluster, plan, &steps, &run_dir, &mut record, &shutdown).await
        }
        Net::Netns => {
            let cluster = NetnsCluster::start(spec).await?;
            run_on(cluster, plan, &steps, &run_dir, &mut record, &shutdown).await
        }
        Net::Ssh => {
            let options = plan.ssh.clone().context("--nodes was not validated")?;
            let cluster = SshCluster::start(spec, options).await?;
            run_on(cluster, plan, &steps, &run_dir, &mut record, &shutdown).await
        }
    };
    record.finish(
        started.elapsed(),
        ran.as_ref().err().map(|e| format!("{e:#}")),
    );
    record.write(&run_dir)?;
    let interrupted = ran?;

    let req = AnalysisRequest {
        workload: Some(plan.workload.model()),
        checkers: Vec::new(),
        expect: plan.expect.clone(),
        reads_from_master: Some(plan.read_from == ReadFrom::Master),
    };
    let analysis = analysis::analyse_file(&run_dir.file(store::HISTORY), &req)?;
    Ok(RunOutcome {
        run_dir,
        analysis,
        record,
        interrupted,
    })
}

/// With the cluster up: record, run, heal, read, and tear down (before any analysis: the
/// analysis reads only the files). Returns whether the run was interrupted.
async fn run_on<B: Backend>(
    cluster: B,
    plan: &Plan,
    steps: &[Step],
    run_dir: &RunDir,
    record: &mut TestRecord,
    shutdown: &Shutdown,
) -> Result<bool> {
    record.set_server(&cluster);
    let n1 = cluster.admin_addr("n1").context("n1's address")?;
    let found = features::probe(n1)
        .await
        .context("probing the server's features")?;
    record.features = Some(found.clone());
    record.write(run_dir)?;
    // A test this server cannot run exits 2 with the reason; dropping the cluster tears it down.
    features::require(&found, cluster.server(), plan.workload, &plan.nemesis)?;
    crate::cluster::convergence::await_streaming(&cluster, READY_TIMEOUT).await?;
    // Time zero of the history is the start of the workload, with the cluster up.
    let start = std::time::Instant::now();
    let recorder =
        Recorder::create(&run_dir.file(store::HISTORY), start).context("creating history.jsonl")?;
    let telemetry = Recorder::create(&run_dir.file(store::TELEMETRY), start)
        .context("creating telemetry.jsonl")?;
    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));
    let result = execute(
        plan,
        steps,
        cluster.clone(),
        &recorder,
        &telemetry,
        shutdown,
    )
    .await;
    cluster.lock().await.teardown();
    if recorder.failed() {
        anyhow::bail!(
            "writing {} failed during the run; the history is incomplete",
            run_dir.file(store::HISTORY).display()
        );
    }
    result
}

/// The middle of the pipeline: workload + nemesis + telemetry, then heal, converge and final
/// reads. Returns whether the run was interrupted.
async fn execute<B: Backend>(
    plan: &Plan,
    steps: &[Step],
    cluster: Arc<tokio::sync::Mutex<B>>,
    recorder: &Recorder,
    telemetry_rec: &Recorder,
    shutdown: &Shutdown,
) -> Result<bool> {
    let (topology, nodes, sentinels) = {
        let c = cluster.lock().await;
        let nodes: Vec<_> = c
            .node_names()
            .into_iter()
            .filter_map(|n| Some((n.clone(), c.admin_addr(&n)?)))
            .collect();
        (c.topology(), nodes, c.sentinel_addrs())
    };
    recorder.record(sentinel_events::topology_op(&topology));
    sentinel_events::record_master_changes(&topology, recorder);
    let _sentinel_events = sentinel_events::follow(sentinels, recorder.clone(), topology.clone());
    let telemetry = telemetry::spawn(nodes, telemetry_rec.clone());

    let wcfg = plan.workload_config();
    let counters = Arc::new(Counters::default());
    let clients = Arc::new(ClientRun {
        cfg: wcfg.clone(),
        topology,
        recorder: recorder.clone(),
        generator: Arc::new(Mutex::new(Generator::new(&wcfg, plan.seed))),
        counters: counters.clone(),
        rate: plan.config.rate,
    });
    let active = ActiveFaults::default();
    let nemesis = Nemesis {
        cluster: cluster.clone(),
        recorder: recorder.clone(),
        delay: Delay {
            base: Duration::from_millis(plan.config.delay_ms),
            jitter: Duration::from_millis(plan.config.delay_jitter_ms),
        },
        active: active.clone(),
    };
    let begin = Instant::now();
    let deadline = begin + Duration::from_secs_f64(plan.config.time_limit);
    let progress = progress::spawn(plan.config.time_limit, counters.clone(), active);
    let (highest_process, ()) = tokio::join!(
        clients::run(clients, deadline, shutdown.clone()),
        nemesis.run(steps, begin, shutdown),
    );
    progress.finish();

    let interrupted = shutdown.is_triggered();
    let mut c = cluster.lock().await;
    eprintln!(
        "redline: healing every fault{}",
        if interrupted { "" } else { " and converging" }
    );
    let healed = final_phase::heal(&mut *c, recorder).await;
    if !interrupted {
        healed?;
        let timeout = Duration::from_secs_f64(plan.config.converge_timeout);
        final_phase::converge(&mut *c, recorder, timeout).await?;
        let first = highest_process + wcfg.concurrency as u64 + 1;
        let (nodes, _) = final_phase::final_read_nodes(&*c);
        final_phase::final_reads(&nodes, &c.topology(), &wcfg, recorder, first).await;
    }
    telemetry.abort();
    Ok(interrupted)
}

fn cluster_spec(plan: &Plan, server_bin: &std::path::Path, run_dir: &RunDir) -> ClusterSpec {
    ClusterSpec {
        replicas: plan.config.replicas,
        sentinels: plan.config.sentinels,
        server_bin: server_bin.to_path_buf(),
        redis_options: plan.redis_options.clone(),
        redis_conf: plan.config.redis_conf.clone(),
        run_dir: run_dir.path.clone(),
        sentinel_down_after_ms: plan.config.sentinel_down_after,
        sentinel_failover_timeout_ms: plan.config.sentinel_failover_timeout,
    }
}
