//! `deploy/bench-compare.sh --smoke`: the side-by-side benchmark still sets up FreeRADIUS
//! (rlm_ldap on the lab AD) next to adgate, and each accepts every PAP login, Status-Server probe
//! and EAP-TLS handshake the NAS simulator sends it, so the figures it prints measure servers
//! that work.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::Command;

use common::Lab;

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn the_side_by_side_benchmark_gets_every_request_accepted_by_both_servers() {
    let lab = Lab::get();
    let output = Command::new("deploy/bench-compare.sh")
        .arg("--smoke")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ADGATE_BIN", env!("CARGO_BIN_EXE_adgate"))
        .env("ADGATE_LAB_DIR", lab.dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("every server accepted every request"),
        "{stdout}"
    );
    for path in ["pap", "status-server", "eap-tls"] {
        for server in ["adgate", "freeradius"] {
            assert!(
                stdout
                    .lines()
                    .any(|line| line.starts_with(&format!("1 {server} {path} "))),
                "no {server} {path} round in:\n{stdout}"
            );
        }
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with(path) && line.contains("server_cpu_us")),
            "no {path} summary in:\n{stdout}"
        );
    }
}
