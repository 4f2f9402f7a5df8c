//! Suite file parsing: defaults merge, and every mistake names its line and key.

use super::*;

fn parse_str(text: &str) -> Result<SuiteFile, SuiteFileError> {
    parse(Path::new("suites/x.toml"), text)
}

#[test]
fn defaults_merge_under_each_test() {
    let suite = parse_str(
        r#"
name = "quick"
[defaults]
time-limit = 3
replicas = 1

[[test]]
name = "set"
workload = "set"
nemesis = "none"

[[test]]
name = "reg"
workload = "register"
read-from = "master"
replicas = 2
repeat = 4
redis-option = ["appendonly=yes"]
expect = ["no-stale-reads"]
"#,
    )
    .unwrap();
    assert_eq!(suite.name, "quick");
    assert_eq!(suite.tests.len(), 2);
    let (set, reg) = (&suite.tests[0], &suite.tests[1]);
    assert_eq!(set.config.time_limit, 3.0);
    assert_eq!(set.config.replicas, 1);
    assert_eq!(set.repeat, 1);
    assert_eq!(set.config.name.as_deref(), Some("set"));
    assert_eq!(reg.config.replicas, 2, "the test's own key wins");
    assert_eq!(reg.repeat, 4);
    assert_eq!(reg.config.redis_options, vec!["appendonly=yes"]);
    assert_eq!(reg.line, 12, "the line of its [[test]] header");
}

#[test]
fn redis_option_is_spelled_as_the_flag_or_the_field() {
    let a = parse_str("[[test]]\nname = \"a\"\nredis-option = [\"appendonly=yes\"]\n").unwrap();
    let b = parse_str("[[test]]\nname = \"a\"\nredis-options = [\"appendonly=yes\"]\n").unwrap();
    assert_eq!(
        a.tests[0].config.redis_options,
        b.tests[0].config.redis_options
    );
}

/// A Redis Cluster row: topology, shards and node timeout are keys like any other, merged from
/// the defaults, and a fault a cluster refuses is reported with what to use instead.
#[test]
fn cluster_rows_take_topology_shards_and_node_timeout() {
    let suite = parse_str(
        r#"
[defaults]
topology = "cluster"
shards = 3
replicas = 1
cluster-node-timeout = 2000

[[test]]
name = "minority"
workload = "set"
nemesis = "partition:minority"
expect = ["lost-writes>=1", "no-split-brain"]

[[test]]
name = "uncovered"
replicas = 0
read-from = "master"
nemesis = "kill:master"
cluster-node-timeout = 5000
redis-option = ["cluster-require-full-coverage=no"]
expect = ["outage<=500ms"]
"#,
    )
    .unwrap();
    let (minority, uncovered) = (&suite.tests[0].config, &suite.tests[1].config);
    assert_eq!(minority.topology, "cluster");
    assert_eq!((minority.shards, minority.replicas), (3, 1));
    assert_eq!(minority.cluster_node_timeout, 2000);
    assert_eq!((uncovered.shards, uncovered.replicas), (3, 0));
    assert_eq!(
        uncovered.cluster_node_timeout, 5000,
        "the test's own key wins"
    );
    let err = parse_str(
        "[defaults]\ntopology = \"cluster\"\n[[test]]\nname = \"a\"\nnemesis = \"promote\"\n",
    )
    .unwrap_err();
    // Resetting either key would do; the first in the file is named, with the way out.
    assert_eq!(err.key.as_deref(), Some("topology"), "{err}");
    assert!(err.message.contains("use failover:cluster"), "{err}");
}

#[test]
fn suite_name_defaults_to_the_file_stem() {
    let suite = parse_str("[[test]]\nname = \"a\"\nnemesis = \"none\"\n").unwrap();
    assert_eq!(suite.name, "x");
}

#[test]
fn unknown_key_names_its_line_and_a_suggestion() {
    let err = parse_str("[[test]]\nname = \"a\"\n\nreplicaz = 2\n").unwrap_err();
    assert_eq!(err.line, Some(4));
    assert_eq!(err.key.as_deref(), Some("replicaz"));
    assert!(err.to_string().contains("did you mean `replicas`"), "{err}");
    assert!(
        err.to_string()
            .starts_with("suites/x.toml:4: key `replicaz`"),
        "{err}"
    );
}

#[test]
fn unknown_key_in_defaults_and_top_level() {
    let err = parse_str("[defaults]\nworkloda = \"set\"\n[[test]]\nname = \"a\"\n").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(2), Some("workloda")));
    let err = parse_str("nmae = \"s\"\n[[test]]\nname = \"a\"\n").unwrap_err();
    assert_eq!(err.line, Some(1));
    assert!(err.message.contains("nmae"), "{err}");
}

#[test]
fn wrong_type_names_its_line() {
    let err = parse_str("[[test]]\nname = \"a\"\nreplicas = \"two\"\n").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(3), Some("replicas")));
    assert!(err.message.contains("bad value"), "{err}");
}

#[test]
fn value_rejected_by_validate_names_the_key() {
    let err =
        parse_str("[[test]]\nname = \"a\"\ntime-limit = 2\nworkload = \"sets\"\n").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(4), Some("workload")));
    assert!(err.message.contains("unknown workload"), "{err}");
    let err = parse_str("[defaults]\ntime-limit = -1\n[[test]]\nname = \"a\"\n").unwrap_err();
    assert_eq!(
        (err.line, err.key.as_deref()),
        (Some(2), Some("time-limit"))
    );
    let err = parse_str("[[test]]\nname = \"a\"\nexpect = [\"no-such\"]\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("expect"));
}

#[test]
fn conflicting_keys_point_at_the_nemesis() {
    // partition:minority needs Sentinels: resetting `nemesis` makes the test valid.
    let err = parse_str("[[test]]\nname = \"a\"\nnemesis = \"partition:minority\"\n").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(3), Some("nemesis")));
}

#[test]
fn structural_mistakes() {
    let err = parse_str("[defaults]\nname = \"a\"\n[[test]]\nname = \"b\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("name"));
    let err = parse_str("[[test]]\nworkload = \"set\"\n").unwrap_err();
    assert_eq!(err.line, Some(1));
    assert!(err.message.contains("no `name`"));
    let err = parse_str("[[test]]\nname = \"a\"\n[[test]]\nname = \"a\"\n").unwrap_err();
    assert_eq!(err.line, Some(3));
    let err = parse_str("[[test]]\nname = \"a\"\nrepeat = 0\n").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(3), Some("repeat")));
    let err = parse_str("[[test]]\nname = \"a\"\nstore = \"x\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("store"));
    let err = parse_str("name = \"s\"\n").unwrap_err();
    assert!(err.message.contains("no [[test]]"));
    let err = parse_str("[[test]]\nname = \"a/b\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("name"));
}

#[test]
fn syntax_errors_carry_the_line() {
    let err = parse_str("[[test]]\nname = \"a\"\nreplicas = = 2\n").unwrap_err();
    assert_eq!(err.line, Some(3), "{err}");
}

#[test]
fn shipped_suites_parse() {
    for (name, text) in [
        ("ci-quick", include_str!("../../../suites/ci-quick.toml")),
        ("nightly", include_str!("../../../suites/nightly.toml")),
        (
            "nightly-cluster",
            include_str!("../../../suites/nightly-cluster.toml"),
        ),
    ] {
        let suite = parse(Path::new(name), text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(suite.name, name);
        assert!(!suite.tests.is_empty());
    }
}
