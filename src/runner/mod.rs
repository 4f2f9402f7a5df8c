//! The life of one test run, as one pipeline (Jepsen's `run!`), read top to bottom in
//! [`run_test`] and [`run_on`]: claim a run folder, start the cluster, probe it, run the case
//! (clients and nemesis), heal, converge, take final reads, tear down, analyse, save.
//!
//! Every step after the history opens is recorded whatever happens: a step that fails or is
//! skipped becomes a reason the run is incomplete ([`completeness`]), never a silent gap, and
//! the run is still analysed and saved. The cluster is torn down before the analysis (which
//! reads only files); the backends' guards also tear down on any other exit (error, panic,
//! Ctrl-C). Everything spawned is owned by the pipeline ([`tasks`]).
//!
//! - [`clients`]: the client loop (processes, `info` hand-over, rate limiting), panics caught.
//! - [`case`]: the case: clients and nemesis together, with telemetry and progress beside them.
//! - [`telemetry`]: `INFO replication` samples into `telemetry.jsonl`.
//! - [`cluster_watch`]: on a Redis Cluster, every node's view of itself into the history.
//! - [`final_phase`]: heal, converge, final reads.
//! - [`completeness`]: which planned parts did not run, and what that does to a verdict.
//! - [`tasks`]: owning spawned tasks; panic messages.
//! - [`progress`]: the progress line.
//! - [`test_json`]: what `test.json` records about the run.
//! - [`save`]: `results.json`, `report.html`, `junit.xml`.

pub mod case;
pub mod clients;
pub mod cluster_watch;
pub mod completeness;
pub mod final_phase;
pub mod progress;
pub mod save;
pub mod tasks;
pub mod telemetry;
pub mod test_json;

use crate::analysis::{self, Analysis, AnalysisRequest};
use crate::cluster::backend::Backend;
use crate::cluster::capabilities::{Capability, READY_TIMEOUT};
use crate::cluster::{convergence, features, sharded};
use crate::cluster::{AnyCluster, ClusterSpec};
use crate::config::Plan;
use crate::nemesis::schedule::{self, Step};
use crate::nemesis::spec::NemesisSpec;
use crate::provision::{self, ServerBinary};
use crate::recorder::Recorder;
use crate::shutdown::Shutdown;
use crate::store::{self, RunDir};
use anyhow::{Context, Result};
use completeness::{Completeness, Part};
use redline_workloads::{ReadFrom, WorkloadConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tasks::Background;
use test_json::TestRecord;

/// What a finished run hands back to the CLI.
pub struct RunOutcome {
    pub run_dir: RunDir,
    pub analysis: Analysis,
    pub record: TestRecord,
    /// The run was cut short by a signal: its verdict cannot be trusted to be complete.
    pub interrupted: bool,
}

/// What every step of one run reads.
struct Run<'a> {
    plan: &'a Plan,
    /// The workload's configuration, one for the whole run: the clients and the final reads
    /// share the keys it has handed out.
    workload: WorkloadConfig,
    steps: &'a [Step],
    run_dir: &'a RunDir,
    shutdown: &'a Shutdown,
}

/// Runs one test end to end and saves its outputs. `run_dir_tx` learns the run folder as soon
/// as it exists (the signal handler's second-signal path needs it). An error means the run
/// never got as far as a history; anything later is in the outcome's completeness.
pub async fn run_test(
    plan: &Plan,
    shutdown: Shutdown,
    run_dir_tx: &tokio::sync::watch::Sender<Option<PathBuf>>,
) -> Result<RunOutcome> {
    let server = server_binary(plan)?;
    let run_dir = RunDir::create(&plan.config.store, &plan.name)?;
    run_dir_tx.send_replace(Some(run_dir.path.clone()));
    let steps = schedule::plan(
        &plan.nemesis,
        plan.seed,
        plan.config.time_limit,
        plan.config.nemesis_interval,
        plan.fault_duration,
    );
    // test.json without a finish record: if this process is killed, the run stays incomplete.
    let mut record = TestRecord::new(plan, &server, &steps);
    record.write(&run_dir)?;
    let run = Run {
        plan,
        workload: plan.workload_config(),
        steps: &steps,
        run_dir: &run_dir,
        shutdown: &shutdown,
    };

    let started = std::time::Instant::now();
    let mut parts = Completeness::default();
    let ran = start_cluster_and_run(&run, &server, &mut record, &mut parts).await;
    let interrupted = shutdown.is_triggered();
    if interrupted {
        parts.missing(Part::Run, "interrupted by a signal");
    }
    if let Err(e) = &ran {
        parts.missing(Part::Setup, format!("{e:#}"));
    }
    record.finish(
        started.elapsed(),
        ran.as_ref().err().map(|e| format!("{e:#}")),
        interrupted,
        parts.reasons(),
    );
    record.write(&run_dir)?;
    ran?;

    let mut analysis = analyse(plan, &run_dir)?;
    completeness::apply(&mut analysis, parts.reasons());
    save::write_outputs(&run_dir.path, Some(&record.run_info()), &mut analysis)?;
    Ok(RunOutcome {
        run_dir,
        analysis,
        record,
        interrupted,
    })
}

/// The server binary: found here, or on SSH hosts the one `--server-bin` names there (the
/// hosts check it).
fn server_binary(plan: &Plan) -> Result<ServerBinary> {
    if plan.backend.runs_servers_here() {
        return provision::locate_server(plan.config.server_bin.as_deref(), true);
    }
    Ok(ServerBinary {
        path: plan
            .config
            .server_bin
            .clone()
            .unwrap_or_else(|| "redis-server".into()),
        source: "on the SSH hosts",
    })
}

/// Starts the cluster of the plan's backend, and runs the test on it.
async fn start_cluster_and_run(
    run: &Run<'_>,
    server: &ServerBinary,
    record: &mut TestRecord,
    parts: &mut Completeness,
) -> Result<()> {
    let spec = cluster_spec(run.plan, &server.path, run.run_dir);
    let cluster = AnyCluster::start(&run.plan.backend, spec).await?;
    run_on(cluster, run, record, parts).await
}

/// With the cluster up: probe, run the case, heal, converge, take final reads, tear down.
/// Errors before the history opens are returned (the test could not run); after it, every
/// step is tried and what did not run goes into `parts`.
async fn run_on<B: Backend>(
    cluster: B,
    run: &Run<'_>,
    record: &mut TestRecord,
    parts: &mut Completeness,
) -> Result<()> {
    probe(&cluster, run, record).await?;
    let (history, telemetry) = open_history(run.run_dir)?;
    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));
    let mut background = Background::new();
    let watch = cluster_watch::Watch::of(&*cluster.lock().await, &history);
    let recorders = case::Recorders {
        history: &history,
        telemetry: &telemetry,
        cluster: watch.as_ref(),
    };
    let highest_process = case::run(&cluster, run, recorders, &mut background, parts).await;

    let mut c = cluster.lock().await;
    let interrupted = run.shutdown.is_triggered();
    eprintln!(
        "redline: healing every fault{}",
        if interrupted { "" } else { " and converging" }
    );
    let healed = final_phase::heal(&mut *c, &history).await;
    match healed {
        Err(e) => parts.missing(Part::Heal, format!("{e:#}")),
        // An interrupted run only heals: the user asked it to stop.
        Ok(()) if interrupted => {}
        Ok(()) => {
            let timeout = Duration::from_secs_f64(run.plan.config.converge_timeout);
            match final_phase::converge(&mut *c, &history, watch.as_ref(), timeout).await {
                Err(e) => parts.missing(Part::Converge, format!("{e:#}")),
                Ok(reads) => {
                    let cfg = &run.workload;
                    let first = highest_process + cfg.concurrency as u64 + 1;
                    let (nodes, no_address) = final_phase::final_read_nodes(&*c);
                    let unread = final_phase::final_reads(
                        &nodes,
                        &c.topology(),
                        cfg,
                        &history,
                        first,
                        &reads,
                    )
                    .await;
                    for why in no_address.into_iter().chain(unread) {
                        parts.missing(Part::FinalReads, why);
                    }
                }
            }
        }
    }
    drop(background);
    c.teardown();
    if history.failed() {
        parts.missing(
            Part::History,
            format!(
                "writing {} failed during the run; the history is incomplete",
                run.run_dir.file(store::HISTORY).display()
            ),
        );
    }
    Ok(())
}

/// What the server is and can do, into `test.json`; a test this server cannot run is refused
/// here (dropping the cluster tears it down). Then waits until every replica streams.
async fn probe<B: Backend>(cluster: &B, run: &Run<'_>, record: &mut TestRecord) -> Result<()> {
    record.set_server(cluster);
    let n1 = cluster.admin_addr("n1").context("n1's address")?;
    let mut found = features::probe(n1)
        .await
        .context("probing the server's features")?;
    if let Some((name, addr)) = cluster.sentinel_addrs().into_iter().next() {
        match features::probe_sentinel(addr).await {
            Ok(coordinated) => found.sentinel_coordinated_failover = Some(coordinated),
            // Only a test that needs the answer stops for want of it.
            Err(e) if !needs_coordinated_failover(run) => {
                tracing::warn!("could not probe Sentinel {name}'s features: {e:#}")
            }
            Err(e) => return Err(e.context(format!("probing Sentinel {name}'s features"))),
        }
    }
    record.features = Some(found.clone());
    record.write(run.run_dir)?;
    features::require(
        &found,
        cluster.server(),
        run.plan.workload,
        &run.plan.nemesis,
    )?;
    match cluster.sharded() {
        Some(_) => sharded::converge::await_streaming(cluster, READY_TIMEOUT).await,
        None => convergence::await_streaming(cluster, READY_TIMEOUT).await,
    }
}

/// Whether the test's faults include `failover:sentinel-coordinated`.
fn needs_coordinated_failover(run: &Run<'_>) -> bool {
    use crate::nemesis::spec::{FailoverKind, Fault};
    run.plan
        .nemesis
        .faults
        .contains(&Fault::Failover(FailoverKind::SentinelCoordinated))
}

/// `history.jsonl` and `telemetry.jsonl`, whose time zero is now: the start of the workload,
/// with the cluster up.
fn open_history(run_dir: &RunDir) -> Result<(Recorder, Recorder)> {
    let start = std::time::Instant::now();
    let history =
        Recorder::create(&run_dir.file(store::HISTORY), start).context("creating history.jsonl")?;
    let telemetry = Recorder::create(&run_dir.file(store::TELEMETRY), start)
        .context("creating telemetry.jsonl")?;
    Ok((history, telemetry))
}

/// Checks the recorded history with the workload's checkers and the plan's expectations.
fn analyse(plan: &Plan, run_dir: &RunDir) -> Result<Analysis> {
    let req = AnalysisRequest {
        workload: Some(plan.workload.model()),
        checkers: Vec::new(),
        expect: plan.expect.clone(),
        reads_from_master: Some(plan.read_from == ReadFrom::Master),
    };
    analysis::analyse_run(&run_dir.path, &req)
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
        sharding: plan.sharding,
        link_faults: cuts_or_delays_links(&plan.nemesis),
        lazy_disk: plan.lazy_disk(),
    }
}

/// Whether a fault of the plan can cut or delay a link: only then does the cluster need link
/// control (on the local backend, a proxy in front of every member). Kill, pause, promotion and
/// failovers act on processes and roles, and Sentinel needs no proxy to find the master.
fn cuts_or_delays_links(nemesis: &NemesisSpec) -> bool {
    nemesis.faults.iter().any(|f| {
        matches!(
            f.needs(),
            Some(Capability::Partition | Capability::LinkDelay)
        )
    })
}
