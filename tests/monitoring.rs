//! The alerts and the dashboard adgate ships (`deploy/prometheus/`, `deploy/grafana/`): the
//! rules pass `promtool check rules` and their unit tests (`promtool test rules`), the dashboard
//! is a Grafana import on a `${DS_PROMETHEUS}` input, and every metric name either of them uses
//! is one a running adgate exports — a renamed metric cannot silently blind an alert.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{adgate_command, http_get_accepting, start_with_metrics_on, Lab};
use serde_json::Value;

const USER_NAME: u8 = 1;
const ACCT_STATUS_TYPE: u8 = 40;
const ACCT_SESSION_ID: u8 = 44;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(deploy("prometheus"))
        .output()
        .expect("promtool (package prometheus, installed by deploy/lab.sh up)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
#[ignore = "needs promtool, which deploy/lab.sh up installs: deploy/test.sh"]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let checked = promtool(&["check", "rules", "adgate-alerts.yml"]);
    assert!(checked.contains("SUCCESS: 12 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "adgate-alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(deploy("grafana/adgate-dashboard.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_dashboard_is_a_grafana_import_on_a_prometheus_input() {
    let dashboard = dashboard();
    let inputs = dashboard["__inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0]["name"], "DS_PROMETHEUS");
    assert_eq!(inputs[0]["type"], "datasource");
    assert_eq!(inputs[0]["pluginId"], "prometheus");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 41);
    assert!(
        dashboard["id"].is_null(),
        "an import gets its id from Grafana"
    );
    assert_eq!(dashboard["uid"], "adgate-overview");
    let prometheus = serde_json::json!({"type": "prometheus", "uid": "${DS_PROMETHEUS}"});
    assert_eq!(dashboard["templating"]["list"][0]["datasource"], prometheus);

    let mut ids = HashSet::new();
    let mut cells = HashSet::new();
    let panels = dashboard["panels"].as_array().unwrap();
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "{title}: id taken"
        );
        let grid = &panel["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| grid[k].as_u64().unwrap());
        assert!(x + w <= 24, "{title}: wider than the 24 columns");
        for column in x..x + w {
            for row in y..y + h {
                assert!(
                    cells.insert((column, row)),
                    "{title} overlaps another panel"
                );
            }
        }
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"], prometheus, "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        let ref_ids: HashSet<&str> = targets
            .iter()
            .map(|t| t["refId"].as_str().unwrap())
            .collect();
        assert_eq!(ref_ids.len(), targets.len(), "{title}: refIds repeat");
        for target in targets {
            assert_eq!(target["datasource"], prometheus, "{title}");
            assert!(
                target["expr"].as_str().unwrap().contains("adgate_"),
                "{title}"
            );
        }
    }
    assert!(panels.len() > 10);
}

/// The `adgate_…` words of `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("adgate_"))
        .map(str::to_owned)
        .collect()
}

/// Every series name a scrape in the OpenMetrics format can hold: the families' names with the
/// suffixes of their types, and the samples' names.
fn exported_names(scrape: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    for line in scrape.lines() {
        if let Some(family) = line.strip_prefix("# TYPE ") {
            let (name, kind) = family.split_once(' ').unwrap();
            let suffixes: &[&str] = match kind {
                "counter" => &["", "_total", "_created"],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|suffix| format!("{name}{suffix}")));
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            names.insert(name.to_owned());
        }
    }
    names
}

#[tokio::test]
async fn every_metric_the_alerts_and_the_dashboard_use_is_exported_by_a_running_adgate() {
    // Syslog forwarding configured (to a port where nothing listens), so that its families
    // exist: a feature not configured exports none (docs/operations.md).
    let spool = tempfile::tempdir().unwrap();
    let nowhere = common::free_tcp_port();
    // The periodic AD checks on too (their first run, with no DC, finds AD unavailable; the
    // findings gauge exists from the start).
    let (adgate, metrics) = start_with_metrics_on(Lab::without_dc(), |config| {
        let config = config.replace("ad_check_interval_s = 0", "ad_check_interval_s = 3600");
        format!(
            "{config}\n[syslog]\nurl = \"tcp://127.0.0.1:{nowhere}\"\nspool_dir = \"{}\"\n",
            spool.path().display()
        )
    });
    // Families with labels show once they count something: a login (refused, no DC), and a
    // cut by hand of a session known from its Accounting-Start (no Dynamic Authorization
    // address configured: recorded and counted as `no_disconnect_configured`).
    adgate.login("alice").await;
    let start: [(u8, &[u8]); 3] = [
        (ACCT_STATUS_TYPE, &1u32.to_be_bytes()),
        (ACCT_SESSION_ID, b"session-1"),
        (USER_NAME, b"alice"),
    ];
    adgate.accounting_nas().accounting(&start).await.unwrap();
    let config = adgate.config_path();
    let (_, cut) = adgate_command(&[
        "sessions".as_ref(),
        "disconnect".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--session".as_ref(),
        "session-1".as_ref(),
    ]);
    assert!(cut.contains("no_disconnect_configured"), "{cut}");
    let (status, scrape) = http_get_accepting(
        metrics,
        "/metrics",
        "application/openmetrics-text;version=1.0.0",
    );
    assert_eq!(status, 200, "{scrape}");
    let exported = exported_names(&scrape);

    let alerts = std::fs::read_to_string(deploy("prometheus/adgate-alerts.yml")).unwrap();
    let rules: String = alerts
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let dashboard = std::fs::read_to_string(deploy("grafana/adgate-dashboard.json")).unwrap();
    for (file, used) in [
        ("adgate-alerts.yml", metric_names(&rules)),
        ("adgate-dashboard.json", metric_names(&dashboard)),
    ] {
        assert!(used.len() >= 10, "{file}: {used:?}");
        let missing: Vec<&String> = used
            .iter()
            .filter(|name| !exported.contains(*name))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics adgate does not export: {missing:?}\n{scrape}"
        );
    }
}
