//! Every workload against a real `redis-server` master and replica started by the test:
//! operations complete, final reads return what was written, and failures map to fail/info
//! as `outcome` promises (READONLY, dead port, a paused server).

mod support;

use redline_checkers::{Op, OpType, Process, WorkloadKind};
use redline_workloads::{
    final_reads, Client, Endpoint, Generator, ReadFrom, ReplicaRouting, Topology, WorkloadConfig,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{free_port, master_and_replica, topology, RedisServer};

/// Runs `ops_each` operations in each of `cfg.concurrency` processes concurrently, as the
/// harness does (a process whose op ended info continues as process + concurrency).
async fn run(cfg: &WorkloadConfig, topology: &Topology, ops_each: usize) -> Vec<(Op, Op)> {
    let generator = Arc::new(Mutex::new(Generator::new(cfg, 1)));
    let mut tasks = Vec::new();
    for slot in 0..cfg.concurrency as u64 {
        let (cfg, topology, generator) = (cfg.clone(), topology.clone(), generator.clone());
        tasks.push(tokio::spawn(async move {
            let mut process = slot;
            let mut client = Client::new(&cfg, topology.clone(), process);
            let mut pairs = Vec::new();
            for _ in 0..ops_each {
                let invoke = generator.lock().unwrap().next_op(process);
                let completion = client.invoke(&invoke).await;
                if completion.op_type == OpType::Info {
                    process += cfg.concurrency as u64;
                    client = Client::new(&cfg, topology.clone(), process);
                }
                pairs.push((invoke, completion));
            }
            pairs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

fn endpoint(server: &RedisServer) -> Endpoint {
    Endpoint {
        node: server.name.clone(),
        addr: server.addr,
    }
}

fn config(kind: WorkloadKind) -> WorkloadConfig {
    WorkloadConfig {
        concurrency: 4,
        op_timeout: Duration::from_secs(2),
        ..WorkloadConfig::for_kind(kind)
    }
}

/// Final reads from `server`, retried until they equal `expected` (replication catching up).
async fn converged_final_reads(
    cfg: &WorkloadConfig,
    topo: &Topology,
    server: &RedisServer,
    expected: &[Value],
) -> Vec<(Op, Op)> {
    for _ in 0..100 {
        let reads = final_reads(cfg, topo, &endpoint(server), 99).await;
        let values: Vec<Value> = reads.iter().map(|(_, c)| c.value.clone()).collect();
        if values == expected {
            return reads;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never converged to {expected:?}", server.name);
}

/// The set workload's config, sets moving on after `set_size` elements.
fn set_config(set_size: usize) -> WorkloadConfig {
    WorkloadConfig {
        set_size: Some(set_size),
        ..config(WorkloadKind::Set)
    }
}

fn ok_values(pairs: &[(Op, Op)], f: &str) -> BTreeSet<i64> {
    pairs
        .iter()
        .filter(|(i, c)| i.f == f && c.op_type == OpType::Ok)
        .map(|(_, c)| c.value.as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_adds_are_acknowledged_and_final_reads_return_them_from_every_node() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    // One set for the whole test (sets that fill up: the next test).
    let cfg = set_config(10_000);
    let pairs = run(&cfg, &topo, 40).await;
    assert!(
        pairs.iter().all(|(_, c)| c.op_type == OpType::Ok),
        "{pairs:?}"
    );
    for (invoke, completion) in &pairs {
        let expected_node = if invoke.f == "add" { "n1" } else { "n2" };
        assert_eq!(completion.node.as_deref(), Some(expected_node));
        if invoke.f == "read" {
            assert!(completion.value.is_array());
        }
    }
    let added = ok_values(&pairs, "add");
    assert!(added.len() > 20);
    let whole: Vec<i64> = added.iter().copied().collect();
    for server in [&master, &replica] {
        let reads = converged_final_reads(&cfg, &topo, server, &[json!(whole)]).await;
        let (invoke, completion) = &reads[0];
        assert!(invoke.is_final && completion.is_final);
        assert_eq!(completion.node.as_deref(), Some(server.name.as_str()));
        assert_eq!(completion.key.as_deref(), Some("set"));
    }
}

/// Sets fill up and adds move on to fresh ones: every set stays within its size, and the
/// final reads of every set used return every acknowledged add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sets_are_retired_and_every_one_is_read_back() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    let cfg = set_config(8);
    let pairs = run(&cfg, &topo, 40).await;
    let added = ok_values(&pairs, "add");
    let reads = final_reads(&cfg, &topo, &endpoint(&master), 99).await;
    assert!(reads.len() > 10, "{} sets", reads.len());
    let mut seen = BTreeSet::new();
    for (invoke, completion) in &reads {
        assert_eq!(completion.op_type, OpType::Ok, "{completion:?}");
        let members = completion.value.as_array().unwrap();
        assert!(members.len() <= 8, "{:?} holds {members:?}", invoke.key);
        seen.extend(members.iter().map(|m| m.as_i64().unwrap()));
    }
    assert_eq!(seen, added);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_writes_cas_and_reads_complete_and_cas_compares() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    let cfg = WorkloadConfig {
        cas: true,
        read_from: ReadFrom::Master,
        ..config(WorkloadKind::Register)
    };
    let pairs = run(&cfg, &topo, 40).await;
    for (invoke, completion) in &pairs {
        let expected = if invoke.f == "cas" && completion.op_type == OpType::Fail {
            assert_eq!(completion.error.as_deref(), Some("mismatch"));
            OpType::Fail
        } else {
            OpType::Ok
        };
        assert_eq!(completion.op_type, expected, "{completion:?}");
        assert_eq!(completion.node.as_deref(), Some("n1"));
    }
    assert!(pairs
        .iter()
        .any(|(i, c)| i.f == "cas" && c.op_type == OpType::Ok));
    let reads = final_reads(&cfg, &topo, &endpoint(&master), 99).await;
    assert_eq!(reads.len(), 4);
    let written: BTreeSet<i64> = pairs
        .iter()
        .filter(|(i, c)| i.f != "read" && c.op_type == OpType::Ok)
        .map(|(i, _)| {
            i.value
                .as_i64()
                .unwrap_or_else(|| i.value[1].as_i64().unwrap())
        })
        .collect();
    for (_, c) in &reads {
        let v = c.value.as_i64();
        assert!(v.is_none_or(|v| written.contains(&v)), "{c:?}");
    }

    // The script compares, handles absent keys, and reports a mismatch as fail.
    let mut client = Client::new(&cfg, topo.clone(), 50);
    let op = |f: &str, value: Value| Op {
        key: Some("cas-test".into()),
        value,
        ..Op::new(0, 0, Process::Client(50), OpType::Invoke, f)
    };
    let outcomes = [
        (op("cas", json!([1, 5])), OpType::Fail),
        (op("cas", json!([null, 5])), OpType::Ok),
        (op("cas", json!([null, 6])), OpType::Fail),
        (op("cas", json!([5, 10])), OpType::Ok),
        (op("cas", json!([5, 11])), OpType::Fail),
        (op("read", Value::Null), OpType::Ok),
    ];
    for (invoke, expected) in outcomes {
        let completion = client.invoke(&invoke).await;
        assert_eq!(completion.op_type, expected, "{invoke:?} -> {completion:?}");
        if invoke.f == "read" {
            assert_eq!(completion.value, json!(10));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_final_read_counts_every_acknowledged_increment() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    let cfg = config(WorkloadKind::Counter);
    let pairs = run(&cfg, &topo, 30).await;
    assert!(pairs.iter().all(|(_, c)| c.op_type == OpType::Ok));
    let incrs = pairs.iter().filter(|(i, _)| i.f == "incr").count();
    for server in [&master, &replica] {
        converged_final_reads(&cfg, &topo, server, &[json!(incrs)]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_reports_how_many_replicas_acknowledged() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    // A generous WAIT timeout: on a loaded machine 500 ms can pass without the replica's ack,
    // and WAIT would then rightly answer 0.
    let cfg = WorkloadConfig {
        read_ratio: 0.2,
        wait_timeout_ms: 3000,
        op_timeout: Duration::from_secs(5),
        ..config(WorkloadKind::Wait)
    };
    let pairs = run(&cfg, &topo, 20).await;
    for (invoke, completion) in pairs.iter().filter(|(i, _)| i.f == "add") {
        assert_eq!(completion.op_type, OpType::Ok);
        assert_eq!(invoke.wait.as_ref().and_then(|w| w.acked), None);
        assert_eq!(completion.wait.as_ref().and_then(|w| w.acked), Some(1));
    }
    // Asking for two replicas with only one: WAIT times out, reports 1, and the add is ok.
    let cfg = WorkloadConfig {
        wait_replicas: 2,
        wait_timeout_ms: 50,
        read_ratio: 0.0,
        ..cfg
    };
    let mut generator = Generator::new(&cfg, 3);
    let invoke = generator.next_op(0);
    let completion = Client::new(&cfg, topo, 0).invoke(&invoke).await;
    assert_eq!(completion.op_type, OpType::Ok);
    let wait = completion.wait.unwrap();
    assert_eq!(
        (wait.replicas, wait.timeout_ms, wait.acked),
        (2, 50, Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waitaof_on_a_server_without_it_fails_before_the_add() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    if !master
        .call(&["COMMAND", "INFO", "WAITAOF"])
        .starts_with("*1\r\n*-1")
    {
        eprintln!("this redis-server knows WAITAOF; the refusal path is not exercised");
        return;
    }
    let cfg = WorkloadConfig {
        read_ratio: 0.0,
        ..config(WorkloadKind::WaitAof)
    };
    let invoke = Generator::new(&cfg, 1).next_op(0);
    let completion = Client::new(&cfg, topo.clone(), 0).invoke(&invoke).await;
    assert_eq!(completion.op_type, OpType::Fail);
    assert!(completion.error.unwrap().contains("unknown command"));
    let reads = final_reads(&cfg, &topo, &endpoint(&master), 9).await;
    assert_eq!(
        reads[0].1.value,
        json!([]),
        "the failed add must not be applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_append_transactions_read_prefixes_of_the_final_lists() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    // Three lists for the whole test (lists move on after 32 elements by default).
    let cfg = WorkloadConfig {
        keys: 3,
        set_size: Some(10_000),
        ..config(WorkloadKind::ListAppend)
    };
    let pairs = run(&cfg, &topo, 30).await;
    assert!(
        pairs.iter().all(|(_, c)| c.op_type == OpType::Ok),
        "{pairs:?}"
    );
    let reads = final_reads(&cfg, &topo, &endpoint(&master), 99).await;
    let final_lists = reads[0].1.value.as_array().unwrap().clone();
    assert_eq!(final_lists.len(), 3);
    let list = |k: &Value| final_lists.iter().find(|m| m[1] == *k).unwrap()[2].clone();
    for (invoke, completion) in &pairs {
        let read_only = invoke.value.as_array().unwrap().iter().all(|m| m[0] == "r");
        let expected_node = if read_only { "n2" } else { "n1" };
        assert_eq!(completion.node.as_deref(), Some(expected_node));
        for m in completion.value.as_array().unwrap() {
            let whole = list(&m[1]);
            let whole = whole.as_array().unwrap();
            if m[0] == "append" {
                assert!(whole.contains(&m[2]), "{m} missing from {whole:?}");
            } else {
                let seen = m[2].as_array().unwrap();
                assert_eq!(&whole[..seen.len()], seen.as_slice(), "not a prefix");
            }
        }
    }
    converged_final_reads(&cfg, &topo, &replica, &[Value::Array(final_lists.clone())]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_a_read_only_replica_fail() {
    let (master, replica) = master_and_replica();
    // The harness believes the replica is the master (as after a promotion it did not make).
    let topo = topology(&[&master, &replica], "n2");
    for (kind, f) in [
        (WorkloadKind::Set, "add"),
        (WorkloadKind::Register, "write"),
        (WorkloadKind::Counter, "incr"),
        (WorkloadKind::ListAppend, "txn"),
    ] {
        let cfg = WorkloadConfig {
            read_ratio: 0.0,
            ..config(kind)
        };
        let invoke = Generator::new(&cfg, 1).next_op(0);
        assert_eq!(invoke.f, f);
        let completion = Client::new(&cfg, topo.clone(), 0).invoke(&invoke).await;
        assert_eq!(completion.op_type, OpType::Fail, "{kind}: {completion:?}");
        assert_eq!(completion.node.as_deref(), Some("n2"));
        let error = completion.error.unwrap();
        assert!(
            error.starts_with("READONLY") || error.starts_with("EXECABORT"),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_port_fails_reads_and_writes() {
    let addr = ([127, 0, 0, 1], free_port()).into();
    let topo = Topology::new(&[("n9".to_string(), addr)], "n9");
    let cfg = WorkloadConfig {
        read_from: ReadFrom::Master,
        ..config(WorkloadKind::Register)
    };
    let mut generator = Generator::new(&cfg, 5);
    let mut client = Client::new(&cfg, topo, 0);
    let mut fs = BTreeSet::new();
    for _ in 0..10 {
        let completion = client.invoke(&generator.next_op(0)).await;
        assert_eq!(completion.op_type, OpType::Fail, "{completion:?}");
        assert_eq!(completion.node.as_deref(), Some("n9"));
        fs.insert(completion.f);
    }
    assert_eq!(fs.len(), 2, "both reads and writes were tried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_master_turns_a_write_into_info_and_a_read_into_fail() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    let cfg = WorkloadConfig {
        read_from: ReadFrom::Master,
        op_timeout: Duration::from_millis(300),
        ..config(WorkloadKind::Register)
    };
    let write = |v: i64| Op {
        key: Some("r0".into()),
        value: json!(v),
        ..Op::new(0, 0, Process::Client(0), OpType::Invoke, "write")
    };
    let read = Op {
        key: Some("r0".into()),
        ..Op::new(0, 0, Process::Client(1), OpType::Invoke, "read")
    };
    let mut writer = Client::new(&cfg, topo.clone(), 0);
    let mut reader = Client::new(&cfg, topo.clone(), 1);
    // Connect both first, so the timeouts below happen after sending.
    assert_eq!(writer.invoke(&write(1)).await.op_type, OpType::Ok);
    assert_eq!(reader.invoke(&read).await.op_type, OpType::Ok);
    master.pause();
    let started = std::time::Instant::now();
    let w = writer.invoke(&write(2)).await;
    let r = reader.invoke(&read).await;
    master.resume();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(w.op_type, OpType::Info, "{w:?}");
    assert!(w.error.unwrap().contains("timed out"));
    assert_eq!(w.node.as_deref(), Some("n1"));
    assert_eq!(r.op_type, OpType::Fail, "{r:?}");
    // The next process of the writer reconnects and proceeds; the info write did land.
    let mut next = Client::new(&cfg, topo, 4);
    assert_eq!(next.invoke(&read).await.value, json!(2));
    assert_eq!(next.invoke(&write(3)).await.op_type, OpType::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_routed_sticky_or_round_robin_across_replicas() {
    let master = RedisServer::start("n1", None);
    let r2 = RedisServer::start("n2", Some(&master));
    let r3 = RedisServer::start("n3", Some(&master));
    let topo = topology(&[&master, &r2, &r3], "n1");
    let read = |p: u64| Op {
        key: Some("r0".into()),
        ..Op::new(0, 0, Process::Client(p), OpType::Invoke, "read")
    };
    let nodes = |routing: ReplicaRouting, process: u64| {
        let cfg = WorkloadConfig {
            replica_routing: routing,
            ..config(WorkloadKind::Register)
        };
        let topo = topo.clone();
        async move {
            let mut client = Client::new(&cfg, topo, process);
            let mut seen = Vec::new();
            for _ in 0..4 {
                let c = client.invoke(&read(process)).await;
                assert_eq!(c.op_type, OpType::Ok);
                seen.push(c.node.unwrap().to_string());
            }
            seen
        }
    };
    assert_eq!(nodes(ReplicaRouting::Sticky, 0).await, ["n2"; 4]);
    assert_eq!(nodes(ReplicaRouting::Sticky, 1).await, ["n3"; 4]);
    assert_eq!(
        nodes(ReplicaRouting::RoundRobin, 0).await,
        ["n2", "n3", "n2", "n3"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_follow_a_sentinel_failover() {
    let (master, replica) = master_and_replica();
    let sentinel = support::Sentinel::start(&master);
    let topo = topology(&[&master, &replica], "n1");
    topo.use_sentinels(vec![sentinel.addr], "mymaster");
    let cfg = WorkloadConfig {
        read_ratio: 0.0,
        ..config(WorkloadKind::Set)
    };
    // Wait until the Sentinel answers and knows the replica (it learns it from the master).
    master.wait_for(
        |_| {
            sentinel
                .call(&["SENTINEL", "replicas", "mymaster"])
                .contains("slave")
        },
        "Sentinel knowing the replica",
    );
    let mut generator = Generator::new(&cfg, 1);
    let mut client = Client::new(&cfg, topo.clone(), 0);
    let first = client.invoke(&generator.next_op(0)).await;
    assert_eq!(
        (first.op_type, first.node.as_deref()),
        (OpType::Ok, Some("n1"))
    );

    // NOGOODSLAVE until the Sentinel has heard from the replica itself: retry.
    master.wait_for(
        |_| {
            sentinel
                .call(&["SENTINEL", "FAILOVER", "mymaster"])
                .starts_with("+OK")
        },
        "SENTINEL FAILOVER accepted",
    );
    let new_port = replica.addr.port().to_string();
    master.wait_for(
        |_| {
            let reply = sentinel.call(&["SENTINEL", "get-master-addr-by-name", "mymaster"]);
            reply.contains(&new_port) && replica.call(&["ROLE"]).contains("master")
        },
        "failover to n2",
    );
    // Until the old master is turned into a replica, a client that cached it keeps writing
    // there successfully: the split-brain window redline exists to expose. The Sentinel would
    // demote it within ~10 s (its INFO period); do it now to keep the test short.
    master.call(&["REPLICAOF", "127.0.0.1", &new_port]);
    master.wait_for(|m| m.call(&["ROLE"]).contains("slave"), "n1 demoted");
    // The cached master is now a replica: writes fail (READONLY) or are info (Sentinel kills
    // the old master's clients) until the client rediscovers, without the harness's help.
    let mut process = 0;
    for attempt in 0..10 {
        let completion = client.invoke(&generator.next_op(process)).await;
        match (completion.op_type, completion.node.as_deref()) {
            (OpType::Ok, Some("n2")) => return,
            (OpType::Fail | OpType::Info, Some("n1")) if attempt < 3 => {}
            other => panic!("attempt {attempt}: {other:?} {completion:?}"),
        }
        if completion.op_type == OpType::Info {
            process += cfg.concurrency as u64;
            client = Client::new(&cfg, topo.clone(), process);
        }
    }
    panic!("never wrote to the new master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_whose_wait_is_cut_short_is_ok_without_an_ack_count() {
    let (master, replica) = master_and_replica();
    let topo = topology(&[&master, &replica], "n1");
    let cfg = WorkloadConfig {
        read_ratio: 0.0,
        wait_timeout_ms: 0, // WAIT 1 0 blocks until the replica acks: never, it is paused
        op_timeout: Duration::from_millis(300),
        ..config(WorkloadKind::Wait)
    };
    let invoke = Generator::new(&cfg, 1).next_op(0);
    replica.pause();
    let completion = Client::new(&cfg, topo.clone(), 0).invoke(&invoke).await;
    replica.resume();
    assert_eq!(completion.op_type, OpType::Ok, "{completion:?}");
    assert_eq!(completion.wait.as_ref().and_then(|w| w.acked), None);
    assert!(completion
        .error
        .unwrap()
        .starts_with("write ok, then: timed out"));
    let reads = final_reads(&cfg, &topo, &endpoint(&master), 9).await;
    assert_eq!(reads[0].1.value, json!([invoke.value]));
}
