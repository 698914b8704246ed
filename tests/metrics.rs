//! What Prometheus sees after a known sequence of requests: exact counter values for each
//! family, an exposition `promtool check metrics` accepts, and the health and readiness probes.

mod common;

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};

use adgate_radius::ResponseCode;
use common::{http_get, http_get_accepting, start_with_metrics, Lab};

#[tokio::test]
async fn a_scripted_run_shows_in_every_family() {
    let lab = Lab::get();
    let (adgate, metrics) = start_with_metrics(|config| config);
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
        "adgate_request_duration_seconds_count 3",
        "adgate_directory_check_duration_seconds_count 3",
        "adgate_audit_write_duration_seconds_count 4",
        "adgate_audit_write_failures_total 0",
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
