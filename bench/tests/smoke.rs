//! A seconds-long run of every scenario against the real server, so the benchmark cannot rot.
//! It checks that each scenario runs and reports, and that nothing was lost, duplicated or
//! reordered; the speed of a debug build on a shared machine is not asserted.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn every_scenario_runs_quickly_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("fanout.svg");
    let output = Command::new(env!("CARGO_BIN_EXE_parley-bench"))
        .args(["all", "--quick", "--chart"])
        .arg(&chart)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reports: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for scenario in ["connections", "fanout", "durable", "resume"] {
        assert!(
            reports.iter().any(|r| r["scenario"] == scenario),
            "no {scenario} report in:\n{stdout}"
        );
    }
    for report in &reports {
        for key in ["lost", "duplicated", "out_of_order"] {
            if let Some(n) = report.get(key) {
                assert_eq!(n, 0, "{report}");
            }
        }
    }
    let fanout = reports
        .iter()
        .find(|r| r["scenario"] == "fanout" && r["target"] == "parley")
        .unwrap();
    assert!(fanout["deliveries"].as_u64().unwrap() > 0);
    assert!(fanout["ratio_to_raw"].as_f64().unwrap() > 0.0);
    let durable: Vec<_> = reports
        .iter()
        .filter(|r| r["scenario"] == "durable")
        .collect();
    assert_eq!(durable.len(), 2, "group commit and one commit per write");
    for d in durable {
        assert_eq!(d["acked"], d["stored"]);
    }
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.contains("<svg") && svg.contains("deliveries per second"));
    committed_results_match_this_build(&reports);
}

/// `docs/bench-results.txt` is the committed record of the last `make bench` (docs/benchmarks.md
/// cites it). It cannot be re-measured here, but it must still be this benchmark's output: every
/// scenario and target this build reports appears there, with the same fields.
fn committed_results_match_this_build(reports: &[serde_json::Value]) {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    );
    let path = dir.join("../docs/bench-results.txt");
    let committed: Vec<serde_json::Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys = |r: &serde_json::Value| {
        let mut keys: Vec<String> = r.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    for report in reports {
        let same = committed.iter().find(|c| {
            c["scenario"] == report["scenario"]
                && c["target"] == report["target"]
                && keys(c) == keys(report)
        });
        assert!(
            same.is_some(),
            "docs/bench-results.txt has no {} / {} report with the fields {:?}: run `make bench`",
            report["scenario"],
            report["target"],
            keys(report)
        );
    }
}
