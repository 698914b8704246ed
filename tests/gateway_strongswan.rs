//! A real VPN appliance in front of adgate: strongSwan's charon as an IKEv2 gateway whose
//! eap-radius plugin asks adgate (EAP-GTC from the user, one PAP Access-Request to adgate), and
//! a road warrior logging in with a username and password — all run by `deploy/gateway.sh`.
//! The tests check what the user sees (the tunnel comes up, or is refused) and what the admin
//! reads in the trail (verdict, reason, which appliance asked).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Adgate, Lab};
use serde_json::Value;

const CLIENT_NAME: &str = "strongswan";
const NAS_IDENTIFIER: &str = "strongswan-gw";

/// The gateway and road warrior, pointed at one adgate; taken down again on drop, also when
/// the test fails.
struct Gateway {
    radius_port: u16,
    accounting_port: u16,
}

impl Gateway {
    fn up(adgate: &Adgate) -> Gateway {
        let gateway = Gateway {
            radius_port: adgate.address.port(),
            accounting_port: adgate.acct_address.port(),
        };
        let output = gateway.run(&["up"]);
        assert!(
            output.status.success(),
            "deploy/gateway.sh up failed:\n{}",
            text(&output)
        );
        gateway
    }

    /// Logs `user` in from the road warrior: `(exit code, what it printed)`.
    fn login(&self, user: &str, password_file: &Path) -> (Option<i32>, String) {
        let password_file = password_file.to_str().expect("UTF-8 path");
        let output = self.run(&["login", user, password_file]);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        )
    }

    fn run(&self, args: &[&str]) -> Output {
        let lab = Lab::get();
        Command::new(script())
            .args(args)
            .env("ADGATE_LAB_DIR", lab.dir())
            .env("ADGATE_LAB_NETNS", lab.value("NETNS"))
            .env("ADGATE_GATEWAY_RADIUS_PORT", self.radius_port.to_string())
            .env("ADGATE_GATEWAY_ACCT_PORT", self.accounting_port.to_string())
            .env("ADGATE_GATEWAY_NAS_ID", NAS_IDENTIFIER)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(Lab::get().dir().join("gateway/gw/charon.log")).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let output = self.run(&["down"]);
        if !output.status.success() {
            let failure = format!("deploy/gateway.sh down failed:\n{}", text(&output));
            if std::thread::panicking() {
                eprintln!("{failure}");
            } else {
                panic!("{failure}");
            }
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/gateway.sh")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The last access decision about `user`.
fn record_for(adgate: &Adgate, user: &str) -> Value {
    adgate
        .records()
        .into_iter()
        .rev()
        .find(|r| r["type"] == "decision" && r["user_name"] == user)
        .unwrap_or_else(|| panic!("no audit record for {user:?}:\n{}", adgate.log()))
}

/// The gateway's accounting records about `user`, waiting a little for the Stop (sent as the
/// road warrior's IKE SA closes).
fn accounting_for(adgate: &Adgate, user: &str) -> Vec<Value> {
    let mut records = Vec::new();
    for _ in 0..50 {
        records = adgate
            .records()
            .into_iter()
            .filter(|r| r["type"] == "accounting" && r["user_name"] == user)
            .collect();
        if records.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    records
}

#[test]
fn strongswan_gateway_lets_a_telework_member_in_and_keeps_others_out() {
    let lab = Lab::get();
    let password_file = PathBuf::from(lab.value("FIXTURE_PASSWORD_FILE"));
    // The lab's client entry, named after the appliance; Message-Authenticator stays required
    // (strongSwan's eap-radius signs its Access-Requests).
    let adgate = Adgate::start_with(|config| {
        config.replace("name = \"vpn1\"", &format!("name = \"{CLIENT_NAME}\""))
    });
    let gateway = Gateway::up(&adgate);

    let (code, said) = gateway.login("alice", &password_file);
    assert_eq!(
        (code, said.as_str()),
        (Some(0), "alice: tunnel up"),
        "gateway log:\n{}\nadgate log:\n{}",
        gateway.log(),
        adgate.log()
    );
    let record = record_for(&adgate, "alice");
    assert_eq!(record["verdict"], "accept", "{record}");
    assert_eq!(record["method"], "pap", "{record}");
    assert_eq!(record["nas"]["name"], CLIENT_NAME, "{record}");
    assert_eq!(record["nas"]["nas_identifier"], NAS_IDENTIFIER, "{record}");
    assert_eq!(record["message_authenticator"], true, "{record}");
    // The gateway accounts for the session (it holds the tunnel until Start is answered).
    let accounting = accounting_for(&adgate, "alice");
    let status_types: Vec<&Value> = accounting
        .iter()
        .map(|r| &r["accounting"]["status_type"])
        .collect();
    assert_eq!(status_types, ["start", "stop"], "{accounting:?}");
    assert!(
        accounting
            .iter()
            .all(|r| r["nas"]["nas_identifier"] == NAS_IDENTIFIER),
        "{accounting:?}"
    );

    let (code, said) = gateway.login("frank", &password_file);
    assert_eq!(
        (code, said.as_str()),
        (Some(1), "frank: refused"),
        "gateway log:\n{}",
        gateway.log()
    );
    let record = record_for(&adgate, "frank");
    assert_eq!(record["verdict"], "reject", "{record}");
    assert_eq!(record["reason"], "telework_off", "{record}");
    assert_eq!(record["nas"]["nas_identifier"], NAS_IDENTIFIER, "{record}");

    // The password went through the gateway; it must not reach the trail.
    let password = String::from_utf8(lab.fixture_password()).expect("UTF-8 password");
    assert!(!adgate.trail_text().contains(password.trim_end()));
}
