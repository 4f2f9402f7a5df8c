//! The fast reader against the full parser: wherever the fast one answers, both give the same
//! op; where it gives up, the full parser decides.

use super::{fast, op_from_fields, parse_record, parse_record_fully};
use proptest::prelude::*;

/// What the fast path makes of `text`, if it answers.
fn fast_op(text: &str) -> Option<crate::history::Op> {
    fast::record_fields(text).and_then(|f| op_from_fields(f, 7))
}

#[test]
fn jepsen_records_are_read_by_the_fast_path_as_the_full_parser_reads_them() {
    for text in [
        "{:index 0, :type :invoke, :f :txn, :process 1, :time 1000, :value [[:append 7 1] [:r 6 nil]]}",
        "{:type :ok, :f :txn, :process 1, :time 2000, :value [[:append 7 1] [:r 6 [1 2 3]]]}",
        "{:type :info, :f :write, :process :nemesis, :value {:n1 [\"a\" \"b\"], :n2 ()}}",
        "{:type :fail, :f :cas, :process 3, :value [1 2], :error :cas-failed, :node \"n1\"}",
        "{:type :ok, :f :read, :process 2, :key 5, :value nil, :final true}",
        "{:type :invoke, :f \"add\", :process 0, :value -42, :error [:timeout 1]}",
        "{:process 0, :type :ok, :value [[:w :x 1] [:r :y nil]]}",
    ] {
        let fast = fast_op(text).unwrap_or_else(|| panic!("fast path gave up on {text}"));
        assert_eq!(Ok(fast), parse_record_fully(text, 7), "{text}");
    }
}

#[test]
fn the_fast_path_gives_up_on_what_it_does_not_cover() {
    for text in [
        "{:type :ok, :process 0, :value 1.5}",        // a float
        "{:type :ok, :process 0, :value 10N}",        // a big integer
        "{:type :ok, :process 0, :value #{1 2}}",     // a set
        "{:type :ok, :process 0, :value \"a\\\"b\"}", // an escape
        "{:type :ok, :process 0 ; note\n :value 1}",  // a comment
        "#jepsen.history.Op{:type :ok, :process 0}",  // a tag
        "{:type :ok, :process 0, :value sym}",        // a symbol
        "{:type :ok, :process 0, :value \\a}",        // a character
        "{:type :ok, :process 0, :type :fail}",       // a duplicate key
        "{:type :nope, :process 0}",                  // not a type
        "{:process 0, :value 1}",                     // no type
        "{:type :ok, :process 0, :index -1}",         // a negative index
        "{:type :ok, :process 0, :value 007}",        // a leading zero
        "{:type :ok, :process 0, :value ::auto}",     // an auto-resolved keyword
        "{:type :ok, :process 0} trailing",           // text after the record
        "[:type :ok]",                                // not a map
    ] {
        assert_eq!(fast_op(text), None, "{text}");
        // The record is still read (or refused) by the full parser.
        assert_eq!(parse_record(text, 7), parse_record_fully(text, 7), "{text}");
    }
}

/// EDN text for a value, from a small grammar that strays outside the fast path's subset.
fn edn_value() -> impl Strategy<Value = String> {
    // Mostly the subset, sometimes not, so both paths are taken.
    let leaf = prop_oneof![
        10 => Just("nil".to_string()),
        10 => Just("true".to_string()),
        10 => Just("false".to_string()),
        10 => any::<i64>().prop_map(|i| i.to_string()),
        10 => "[a-z][a-z0-9?!*/.-]{0,6}".prop_map(|k| format!(":{k}")),
        10 => "[a-z0-9 ]{0,6}".prop_map(|s| format!("{s:?}")),
        1 => Just("1.5".to_string()),
        1 => Just("\\c".to_string()),
        1 => Just("sym".to_string()),
        1 => Just("12N".to_string()),
        1 => Just("\"x\\ny\"".to_string()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            4 => prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(" "))),
            4 => prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("({})", v.join(", "))),
            1 => prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| format!("#{{{}}}", v.join(" "))),
            4 => prop::collection::vec(("[a-c]", inner), 0..3).prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!(":{k} {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

/// A record's fields: `type` mostly a valid one, `process` mostly a client, the rest any value;
/// keys mostly unique.
fn record_fields() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let typ = prop_oneof![
        8 => prop_oneof![Just(":ok"), Just(":invoke"), Just(":fail"), Just(":info")]
            .prop_map(str::to_string),
        1 => edn_value(),
    ];
    let process = prop_oneof![
        8 => (0u32..5).prop_map(|i| i.to_string()),
        1 => Just(":nemesis".to_string()),
        1 => edn_value(),
    ];
    let other = prop::collection::vec(
        (
            prop_oneof![
                Just(":index"),
                Just(":time"),
                Just(":f"),
                Just(":key"),
                Just(":value"),
                Just(":node"),
                Just(":final"),
                Just(":error"),
                Just(":wait"),
                Just("\"other\""),
                Just(":type"),
            ],
            edn_value(),
        ),
        0..5,
    );
    (typ, process, other).prop_map(|(typ, process, mut other)| {
        other.push((":type", typ));
        other.push((":process", process));
        other.reverse();
        other
    })
}

proptest! {
    #[test]
    fn the_fast_path_agrees_with_the_full_parser(fields in record_fields()) {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let text = format!("{{{}}}", body.join(", "));
        if let Some(fast) = fast_op(&text) {
            prop_assert_eq!(Ok(fast), parse_record_fully(&text, 7), "{}", text);
        }
    }
}
