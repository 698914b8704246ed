//! What Prometheus sees after a known sequence of requests: exact counter values for each
//! family, an exposition `promtool check metrics` accepts, and the health and readiness probes;
//! the tables read at scrape time (EAP conversations in progress, throttled users) and the
//! syslog spool's depth across a collector outage.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod eap_support;
mod rsyslog;

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adgate_radius::ResponseCode;
use common::{http_get, http_get_accepting, start_with_metrics, Lab};
use eap_support::{open_conversation, TestPki};
use rsyslog::Rsyslog;

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_scripted_run_shows_in_every_family() {
    let lab = Lab::get();
    // One bad password puts a user over budget.
    let (mut adgate, metrics) =
        start_with_metrics(|config| config + "\n[throttle]\nmax_failures = 1\n");
    let password = lab.fixture_password();

    // A datagram too short to be RADIUS from the lab client: discarded as malformed.
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.send_to(&[1, 2, 3], adgate.address).expect("send");
    let records = adgate.wait_for_records(1);
    assert_eq!(records[0]["reason"], "malformed", "{records:?}");

    assert_eq!(
        adgate.pap("alice", &password).await.0.code,
        ResponseCode::Accept
    );
    let (response, record) = adgate.pap("frank", &password).await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "telework_off");
    let (response, record) = adgate.pap("grace", b"not grace's password at all").await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "bad_password");

    let (status, text) = http_get(metrics, "/metrics");
    assert_eq!(status, 200, "{text}");
    for line in [
        r#"adgate_requests_total{client="vpn1",packet="access_request",verdict="accept"} 1"#,
        r#"adgate_requests_total{client="vpn1",packet="access_request",verdict="reject"} 2"#,
        r#"adgate_rejects_total{reason="telework_off"} 1"#,
        r#"adgate_rejects_total{reason="bad_password"} 1"#,
        r#"adgate_discards_total{reason="malformed"} 1"#,
        r#"adgate_discards_total{reason="unknown_client"} 0"#,
        r#"adgate_discards_total{reason="overloaded"} 0"#,
        "adgate_rejects_delayed_total 2",
        "adgate_rejects_withheld_total 0",
        "adgate_request_duration_seconds_count 3",
        "adgate_directory_check_duration_seconds_count 3",
        "adgate_audit_write_duration_seconds_count 4",
        "adgate_audit_write_failures_total 0",
        r#"adgate_throttled_keys{kind="user"} 1"#,
        r#"adgate_throttled_keys{kind="calling_station"} 0"#,
        &format!(
            r#"adgate_build_info{{version="{}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        ),
        &format!(r#"adgate_ldap_dc_up{{dc="{}"}} 1"#, lab.value("LDAP_URL")),
        &format!(
            r#"adgate_ldap_errors_total{{dc="{}",kind="connect"}} 0"#,
            lab.value("LDAP_URL")
        ),
    ] {
        assert!(
            text.lines().any(|shown| shown == line),
            "missing {line:?} in:\n{text}"
        );
    }
    for secret_or_person in ["alice", "frank", "grace", "127.0.0.1"] {
        assert!(
            !text.contains(secret_or_person),
            "{secret_or_person} in:\n{text}"
        );
    }
    for unconfigured in ["adgate_eap_conversations", "adgate_syslog"] {
        assert!(!text.contains(unconfigured), "{unconfigured} in:\n{text}");
    }
    assert_promtool_accepts(&text);

    // Prometheus asks for OpenMetrics and gets the same values in it.
    let (status, openmetrics) = http_get_accepting(
        metrics,
        "/metrics",
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    );
    assert_eq!(status, 200);
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    assert!(openmetrics.contains("# TYPE adgate_requests counter\n"));
    assert!(openmetrics.contains(
        r#"adgate_requests_total{client="vpn1",packet="access_request",verdict="accept"} 1"#
    ));

    assert_eq!(http_get(metrics, "/healthz"), (200, "alive\n".to_owned()));
    let (status, body) = http_get(metrics, "/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ready: domain controller"), "{body}");
    assert_eq!(http_get(metrics, "/elsewhere").0, 404);

    // The probes and the metrics do not keep adgate from stopping (exit 0 after SIGTERM).
    adgate.stop();
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn eap_conversations_left_half_way_are_in_flight_until_dropped() {
    let pki = TestPki::new();
    let (adgate, metrics) = start_with_metrics(|config| {
        config + &pki.eap_tls_section("max_conversations = 1\nconversation_timeout_s = 2")
    });
    let nas = adgate.nas();
    open_conversation(&nas, "stalled@corp.example.test").await;
    assert_shows(
        metrics,
        &[
            "adgate_eap_conversations 1",
            r#"adgate_eap_conversations_dropped_total{reason="table_full"} 0"#,
            r#"adgate_eap_conversations_dropped_total{reason="timeout"} 0"#,
        ],
    );

    // A second conversation in a table of one pushes the first out.
    open_conversation(&nas, "second@corp.example.test").await;
    assert_shows(
        metrics,
        &[
            "adgate_eap_conversations 1",
            r#"adgate_eap_conversations_dropped_total{reason="table_full"} 1"#,
        ],
    );

    // Silent for longer than conversation_timeout_s: no longer in progress.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = assert_shows(
        metrics,
        &[
            "adgate_eap_conversations 0",
            r#"adgate_eap_conversations_dropped_total{reason="timeout"} 1"#,
        ],
    );
    // The conversations' identities never become label values (the DC URLs may name the domain).
    assert!(
        !text.contains("stalled@") && !text.contains("second@"),
        "{text}"
    );
    assert_promtool_accepts(&text);
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn the_syslog_spool_fills_while_the_collector_is_down_and_drains_when_it_is_back() {
    let mut collector = Rsyslog::start();
    collector.stop();
    let spool = tempfile::tempdir().unwrap();
    let (adgate, metrics) = start_with_metrics(|config| {
        format!(
            "{config}\n[syslog]\nurl = \"tcp://127.0.0.1:{}\"\nspool_dir = \"{}\"\n",
            collector.port,
            spool.path().display()
        )
    });
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    assert_eq!(adgate.login("frank").await, ResponseCode::Reject);
    assert_eq!(adgate.records().len(), 2, "one record per login");
    let text = wait_until(metrics, |text| {
        value_of(text, "adgate_syslog_connection_failures_total") >= 1
    });
    // The two decisions and the start's config record.
    assert_eq!(value_of(&text, "adgate_syslog_spool_records"), 3, "{text}");
    assert_eq!(value_of(&text, "adgate_syslog_forwarded_records_total"), 0);
    assert_promtool_accepts(&text);

    collector.restart();
    let text = wait_until(metrics, |text| {
        value_of(text, "adgate_syslog_spool_records") == 0
    });
    assert_eq!(value_of(&text, "adgate_syslog_forwarded_records_total"), 3);
    assert_eq!(collector.wait_for(3).len(), 3);
}

/// The value of the unlabelled metric `name` in `text` (`u64::MAX` if it is not there).
fn value_of(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Scrapes until `shown` holds (within a minute: the syslog forwarder retries up to every
/// 30 s); returns that exposition.
fn wait_until(metrics: SocketAddr, shown: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = http_get(metrics, "/metrics");
        assert_eq!(status, 200, "{text}");
        if shown(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "not shown in time:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scrapes once and checks every line of `expected` is in the exposition; returns it.
fn assert_shows(metrics: SocketAddr, expected: &[&str]) -> String {
    let (status, text) = http_get(metrics, "/metrics");
    assert_eq!(status, 200, "{text}");
    for line in expected {
        assert!(
            text.lines().any(|shown| shown == *line),
            "missing {line:?} in:\n{text}"
        );
    }
    text
}

/// `promtool check metrics` (Debian package prometheus) reads the exposition from stdin.
fn assert_promtool_accepts(text: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; deploy/lab.sh installs it)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let output = promtool.wait_with_output().expect("run promtool");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
