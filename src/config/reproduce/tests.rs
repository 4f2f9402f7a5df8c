//! The reproduce command parses back to the configuration it came from (property test), and
//! secrets never reach it.

use super::*;
use crate::cli::{Cli, Command as Sub};
use clap::Parser;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

/// Splits a POSIX shell line of bare words and single-quoted parts (what [`shell_quote`]
/// writes) into words.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.next());
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    words
}

/// The configuration `redline <words>` parses to.
fn parse(command: &str) -> TestConfig {
    let words = shell_words(command);
    match Cli::try_parse_from(&words) {
        Ok(Cli {
            command: Sub::Test(args),
        }) => args.config,
        Ok(other) => panic!("{command} parsed as {other:?}"),
        Err(e) => panic!("{command}\n{words:?}\n{e}"),
    }
}

/// Text with what shells and clap trip on: spaces, quotes, a leading dash, unicode, newlines.
fn awkward() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9./_-]{1,12}",
        "[ -~]{1,16}",
        "-[a-z]{1,6}",
        "[a-zé ']{1,8}\n?[a-z]{0,4}",
    ]
}

fn redis_option() -> impl Strategy<Value = String> {
    let key = select(vec![
        "appendonly",
        "save",
        "maxmemory-policy",
        "requirepass",
        "masterauth",
        "user",
        "repl-backlog-size",
    ]);
    (key, awkward()).prop_map(|(k, v)| format!("{k}={v}"))
}

fn workload_part() -> impl Strategy<Value = TestConfig> {
    let workloads = select(redline_workloads::workload::names());
    let nemeses = select(vec!["none", "kill", "kill:master,pause:replica", "all"]);
    (
        option::of("[a-z][a-z0-9-]{0,10}"),
        workloads,
        nemeses,
        0.001f64..1e4,
        option::of(0.001f64..100.0),
        0usize..17,
        0usize..10,
        0.001f64..1e5,
        1usize..1001,
        prop_oneof![Just(0.0), 0.001f64..1e6],
        option::of(any::<u64>()),
    )
        .prop_map(
            |(name, w, n, interval, fault, replicas, sentinels, time, conc, rate, seed)| {
                TestConfig {
                    name,
                    workload: w.to_string(),
                    nemesis: n.to_string(),
                    nemesis_interval: interval,
                    fault_duration: fault,
                    replicas,
                    sentinels,
                    time_limit: time,
                    concurrency: conc,
                    rate,
                    seed,
                    ..TestConfig::default()
                }
            },
        )
}

fn client_part(base: TestConfig) -> impl Strategy<Value = TestConfig> {
    (
        select(vec!["replicas", "master", "any"]),
        select(vec!["sticky", "round-robin"]),
        (option::of(1usize..10_001), option::of(1usize..1_000_001)),
        option::of(0.0f64..=1.0),
        any::<bool>(),
        (0u64..17, 0u64..3_600_001, 0u64..2, 0u64..17),
        1usize..1001,
        1u64..3_600_001,
        (0u64..60_001, 0u64..60_001),
        vec(redis_option(), 0..4),
        vec(
            select(vec!["valid", "no-lost-writes", "stale-reads<=5%"]),
            0..3,
        ),
    )
        .prop_map(
            move |(read_from, routing, keys, ratio, cas, waits, txn, op, delays, opts, expect)| {
                TestConfig {
                    read_from: read_from.into(),
                    replica_routing: routing.into(),
                    keys: keys.0,
                    set_size: keys.1,
                    read_ratio: ratio,
                    cas,
                    wait_replicas: waits.0,
                    wait_timeout: waits.1,
                    waitaof_local: waits.2,
                    waitaof_replicas: waits.3,
                    max_txn_length: txn,
                    op_timeout: op,
                    delay_ms: delays.0,
                    delay_jitter_ms: delays.1,
                    redis_options: opts,
                    expect: expect.into_iter().map(String::from).collect(),
                    ..base.clone()
                }
            },
        )
}

fn cluster_part(base: TestConfig) -> impl Strategy<Value = TestConfig> {
    (
        option::of(awkward()),
        option::of(awkward()),
        select(vec!["local", "netns", "ssh"]),
        option::of("n1=[a-z]{1,5}(,n2=[a-z]{1,5})?(,s1=[a-z]{1,4})?"),
        "[a-z]{1,8}",
        option::of(awkward()),
        option::of(awkward()),
        "/[a-z/ ]{1,12}",
        awkward(),
        (1u64..3_600_001, 1u64..3_600_001),
        0.001f64..3600.0,
    )
        .prop_map(
            move |(conf, bin, net, nodes, user, key, known, remote, store, sentinel, converge)| {
                TestConfig {
                    redis_conf: conf.map(Into::into),
                    server_bin: bin.map(Into::into),
                    net: net.into(),
                    nodes,
                    ssh_user: user,
                    ssh_key: key.map(Into::into),
                    ssh_known_hosts: known.map(Into::into),
                    remote_dir: remote,
                    store: store.into(),
                    sentinel_down_after: sentinel.0,
                    sentinel_failover_timeout: sentinel.1,
                    converge_timeout: converge,
                    ..base.clone()
                }
            },
        )
}

/// Random configurations: every field of [`TestConfig`] varies.
fn configurations() -> impl Strategy<Value = TestConfig> {
    workload_part()
        .prop_flat_map(client_part)
        .prop_flat_map(cluster_part)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// configuration -> command -> parsed configuration: the same, secrets aside.
    #[test]
    fn the_command_parses_back_to_the_configuration(config in configurations()) {
        let command = command(&config);
        let back = parse(&command);
        prop_assert_eq!(back, redacted(&config), "{}", command);
    }
}

/// The options the hand-kept list used to drop are in the command.
#[test]
fn options_once_dropped_are_reproduced() {
    let config = TestConfig {
        read_ratio: Some(0.25),
        sentinel_down_after: 5000,
        sentinel_failover_timeout: 9000,
        converge_timeout: 12.5,
        nodes: Some("n1=a,n2=b".into()),
        ssh_user: "deploy".into(),
        ssh_key: Some("/keys/id_ed25519".into()),
        ssh_known_hosts: Some("/keys/known hosts".into()),
        remote_dir: "/srv/redline".into(),
        seed: Some(7),
        ..TestConfig::default()
    };
    let command = command(&config);
    for flag in [
        "--read-ratio 0.25",
        "--sentinel-down-after 5000",
        "--sentinel-failover-timeout 9000",
        "--converge-timeout 12.5",
        "--nodes n1=a,n2=b",
        "--ssh-user deploy",
        "--ssh-key /keys/id_ed25519",
        "--ssh-known-hosts '/keys/known hosts'",
        "--remote-dir /srv/redline",
        "--seed 7",
    ] {
        assert!(command.contains(flag), "{flag} missing from {command}");
    }
    assert_eq!(parse(&command), config);
}

#[test]
fn secrets_are_redacted_and_recognised_whatever_their_case() {
    let config = TestConfig {
        redis_options: vec![
            "requirepass=hunter2".into(),
            "MasterAuth=s3cret".into(),
            "user=default on >pw ~* +@all".into(),
            "appendonly=yes".into(),
        ],
        ..TestConfig::default()
    };
    assert!(has_secrets(&config));
    let command = command(&config);
    for secret in ["hunter2", "s3cret", ">pw"] {
        assert!(!command.contains(secret), "{command}");
    }
    assert!(command.contains("requirepass=<redacted>"), "{command}");
    assert!(
        command.contains("--redis-option appendonly=yes"),
        "{command}"
    );
    assert!(!has_secrets(&TestConfig::default()));
}
