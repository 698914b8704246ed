//! OpenVPN 2.6 in front of adgate, as a small company runs it: the server's radiusplugin
//! (Debian's openvpn-auth-radius) asks adgate with one PAP Access-Request, sends no
//! Message-Authenticator, keeps only four digits of its ports, and brings a tunnel up only once
//! its Accounting-Start is answered — all run by `deploy/gateway-openvpn.sh`. The tests check
//! what the user sees (a tunnel that passes traffic, or none), what the admin reads in the
//! trail, and that a user taken out of the telework group loses the tunnel through OpenVPN's
//! management interface (OpenVPN has no RFC 5176).
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
mod gateway_support;

use std::time::Duration;

use common::{without_reject_delay, Adgate};
use gateway_support::tunnel_gateway::{
    assert_connected, assert_cut_off_telework, assert_members_get_tunnels,
    assert_others_are_kept_out, decision_for, start_and_stop, Kind, OffTelework, TunnelGateway,
    MANAGEMENT_PORT,
};
use serde_json::Value;

/// adgate as the docs say to run it behind OpenVPN: the client entry without
/// `require_message_authenticator` (the default, "auto", serves a NAS that never signs).
fn adgate_for_openvpn(extra: &str) -> Adgate {
    Adgate::start_on_short_ports(|config| {
        without_reject_delay(config).replace(
            "require_message_authenticator = true\n",
            &format!("{extra}\n"),
        )
    })
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn openvpn_lets_members_in_through_a_working_tunnel_and_keeps_others_out() {
    let adgate = adgate_for_openvpn("");
    let gateway = TunnelGateway::up(Kind::OpenVpn, &adgate);

    // radiusplugin never signs: served under the default "auto". It answers nothing but the
    // tunnel; the reasons are in the trail.
    for record in assert_members_get_tunnels(&gateway, &adgate) {
        assert_eq!(record["method"], "pap", "{record}");
    }
    assert_others_are_kept_out(&gateway, &adgate);

    // Accounting-Start was answered (else no tunnel) and the Stop came when the client left;
    // radiusplugin echoes no Class, so they name the decision's account, not its request_id.
    let accounting = start_and_stop(&adgate, "grace");
    let status_types: Vec<&Value> = accounting
        .iter()
        .map(|r| &r["accounting"]["status_type"])
        .collect();
    assert_eq!(status_types, ["start", "stop"], "{accounting:?}");
    let decision = decision_for(&adgate, "grace");
    for record in &accounting {
        assert_eq!(
            record["nas"]["nas_identifier"],
            Kind::OpenVpn.nas_identifier(),
            "{record}"
        );
        assert_eq!(
            record["account"]["object_guid"], decision["account"]["object_guid"],
            "{record}"
        );
        assert!(
            record["accounting"]["framed_ip_address"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.98.1.")),
            "{record}"
        );
    }
    assert!(
        !adgate.log().contains("misconfigured NAS"),
        "{}",
        adgate.log()
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn an_openvpn_tunnel_ends_through_the_management_interface_when_its_user_leaves_telework() {
    let management_password = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(management_password.path(), "a-management-password\n").unwrap();
    let adgate = adgate_for_openvpn(&format!(
        "\n[clients.disconnect]\nkind = \"openvpn_management\"\naddress = \
         \"127.0.0.1:{MANAGEMENT_PORT}\"\npassword_file = \"{}\"",
        management_password.path().display()
    ));
    let gateway = TunnelGateway::up_with_admin_password(
        Kind::OpenVpn,
        &adgate,
        Some(management_password.path()),
    );
    assert_connected(&gateway, &adgate, "tovpn");

    let _back = OffTelework::take("tovpn");
    let took = gateway.assert_emptied_within(Duration::from_secs(10), &adgate);
    println!("telework removal: tovpn's OpenVPN tunnel killed after {took:?}");

    let record = assert_cut_off_telework(&adgate, "tovpn");
    assert_eq!(
        record["sent_to"],
        format!("127.0.0.1:{MANAGEMENT_PORT}"),
        "{record}"
    );
}
