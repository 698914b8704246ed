//! ocserv 1.1 (the open AnyConnect-compatible server) in front of adgate, with the openconnect
//! client: ocserv's radcli asks adgate with one PAP Access-Request and sends no
//! Message-Authenticator, so adgate's default ("auto") serves it unchanged — all run by
//! `deploy/gateway-ocserv.sh`. The tests check what the user sees (a tunnel that passes
//! traffic, or none), what the admin reads in the trail, and that a user taken out of the
//! telework group loses the tunnel through occtl (ocserv has no RFC 5176).
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

use std::time::{Duration, Instant};

use common::{without_reject_delay, Adgate};
use gateway_support::tunnel_gateway::{
    assert_connected, assert_cut_off_telework, assert_members_get_tunnels,
    assert_others_are_kept_out, decision_for, ocserv_occtl_socket, start_and_stop, wait_until,
    Kind, OffTelework, TunnelGateway,
};
use serde_json::Value;

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn ocserv_lets_members_in_through_a_working_tunnel_and_keeps_others_out() {
    // The client entry as the docs say for ocserv: no require_message_authenticator line.
    let adgate = Adgate::start_with(|config| {
        without_reject_delay(config).replace("require_message_authenticator = true\n", "")
    });
    let gateway = TunnelGateway::up(Kind::Ocserv, &adgate);

    for record in assert_members_get_tunnels(&gateway, &adgate) {
        assert_eq!(record["method"], "pap", "{record}");
    }
    assert_others_are_kept_out(&gateway, &adgate);

    // ocserv sends Start, an Interim-Update with the tunnel address, then Stop; it echoes no
    // Class, so the records name the decision's account, not its request_id.
    let accounting = start_and_stop(&adgate, "grace");
    let status_types: Vec<&Value> = accounting
        .iter()
        .map(|r| &r["accounting"]["status_type"])
        .collect();
    assert_eq!(
        status_types.first(),
        Some(&&Value::from("start")),
        "{accounting:?}"
    );
    assert_eq!(
        status_types.last(),
        Some(&&Value::from("stop")),
        "{accounting:?}"
    );
    let decision = decision_for(&adgate, "grace");
    for record in &accounting {
        assert_eq!(
            record["nas"]["nas_identifier"],
            Kind::Ocserv.nas_identifier(),
            "{record}"
        );
        assert_eq!(
            record["account"]["object_guid"], decision["account"]["object_guid"],
            "{record}"
        );
    }
    assert!(
        accounting
            .iter()
            .any(|r| r["accounting"]["framed_ip_address"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.98.2."))),
        "{accounting:?}"
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn an_ocserv_tunnel_ends_through_occtl_when_its_user_leaves_telework() {
    let adgate = Adgate::start_with(|config| {
        without_reject_delay(config).replace(
            "require_message_authenticator = true\n",
            &format!(
                "\n[clients.disconnect]\nkind = \"ocserv_occtl\"\nsocket = \"{}\"\n",
                ocserv_occtl_socket().display()
            ),
        )
    });
    let gateway = TunnelGateway::up(Kind::Ocserv, &adgate);
    assert_connected(&gateway, &adgate, "tovpn");
    assert!(gateway.tunnel_up(), "{}", gateway.log());

    let _back = OffTelework::take("tovpn");
    let removed = Instant::now();
    wait_until(Duration::from_secs(10), || {
        gateway.clients().is_empty() && !gateway.tunnel_up()
    })
    .unwrap_or_else(|| {
        panic!(
            "tovpn's tunnel still up:\n{}\nadgate log:\n{}",
            gateway.log(),
            adgate.log()
        )
    });
    let took = removed.elapsed();

    let record = assert_cut_off_telework(&adgate, "tovpn");
    assert!(record.get("sent_to").is_none(), "{record}");
    println!(
        "telework removal: tovpn's ocserv tunnel down {took:?} after the change was in AD; \
         re-check to occtl's answer {} ms",
        record["detection_to_result_ms"]
    );
    // openconnect exited ("Session terminated by server"): it does not come back on its own.
    std::thread::sleep(Duration::from_secs(2));
    assert!(gateway.clients().is_empty(), "{}", gateway.log());
}
