//! A wrong suite file is refused before anything runs, with exit 2, the file, the line and the
//! key: an unknown key, and a value `redline test` would reject.

mod support;

use support::{assert_exit, redline, Store};

fn run_suite(store: &Store, text: &str) -> (std::process::Output, String) {
    let file = store.path().join("bad.toml");
    std::fs::write(&file, text).expect("suite file");
    let out = redline()
        .arg("suite")
        .arg(&file)
        .arg("--store")
        .arg(store.path())
        .output()
        .expect("redline runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

#[test]
fn unknown_key_exits_2_with_its_line() {
    let store = Store::new();
    let (out, stderr) = run_suite(
        &store,
        "[defaults]\ntime-limit = 2\n\n[[test]]\nname = \"a\"\nreplicaz = 2\n",
    );
    assert_exit(&out, 2);
    assert!(stderr.contains("bad.toml:6: key `replicaz`"), "{stderr}");
    assert!(stderr.contains("did you mean `replicas`"), "{stderr}");
    assert!(!store.path().join("a").exists(), "nothing ran");
}

#[test]
fn bad_value_exits_2_naming_the_key() {
    let store = Store::new();
    let (out, stderr) = run_suite(
        &store,
        "[[test]]\nname = \"a\"\nworkload = \"sets\"\ntime-limit = 2\n",
    );
    assert_exit(&out, 2);
    assert!(stderr.contains("bad.toml:3: key `workload`"), "{stderr}");
    assert!(stderr.contains("unknown workload"), "{stderr}");
}

#[test]
fn wrong_type_exits_2_naming_the_key() {
    let store = Store::new();
    let (out, stderr) = run_suite(&store, "[[test]]\nname = \"a\"\nrepeat = \"3\"\n");
    assert_exit(&out, 2);
    assert!(stderr.contains("bad.toml:3: key `repeat`"), "{stderr}");
}
