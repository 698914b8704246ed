//! SoftEther VPN Server in front of adgate, configured headless with vpncmd, the stock OpenVPN
//! client logging in through SoftEther's OpenVPN-compatible listener — all run by
//! `deploy/gateway-softether.sh`. SoftEther sends no Message-Authenticator and a Proxy-State in
//! every Access-Request: under the defaults adgate discards it and says which setting would
//! accept it; with `limit_proxy_state = false` (what docs/appliances.md says, and what it
//! costs) members get a tunnel and others none. SoftEther sends no accounting.
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

use common::{without_reject_delay, Adgate};
use gateway_support::tunnel_gateway::{
    assert_refused, decision_for, password_file, Kind, TunnelGateway,
};

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn softether_is_refused_loudly_under_the_defaults_and_works_with_limit_proxy_state_off() {
    let defaults = Adgate::start_with(|config| {
        without_reject_delay(config).replace("require_message_authenticator = true\n", "")
    });
    {
        let gateway = TunnelGateway::up(Kind::SoftEther, &defaults);
        let (code, said) = gateway.login("alice", &password_file());
        assert_eq!((code, said), (Some(1), "alice: refused".to_owned()));
        let log = defaults.log();
        let error = log
            .lines()
            .find(|line| line.contains("misconfigured NAS"))
            .unwrap_or_else(|| panic!("no error line:\n{log}"));
        assert!(error.contains("limit_proxy_state = false"), "{error}");
        assert!(
            error.contains("reason=\"proxy_state_without_message_authenticator\""),
            "{error}"
        );
    }

    let adgate = Adgate::start_with(|config| {
        without_reject_delay(config).replace(
            "require_message_authenticator = true\n",
            "limit_proxy_state = false\n",
        )
    });
    let gateway = TunnelGateway::up(Kind::SoftEther, &adgate);
    for member in ["alice", "grace"] {
        let (code, said) = gateway.login(member, &password_file());
        assert_eq!(
            (code, said),
            (Some(0), format!("{member}: tunnel up")),
            "{}\nadgate log:\n{}",
            gateway.log(),
            adgate.log()
        );
        let record = decision_for(&adgate, member);
        assert_eq!(record["verdict"], "accept", "{record}");
        assert_eq!(record["message_authenticator"], false, "{record}");
        assert_eq!(
            record["nas"]["nas_identifier"],
            Kind::SoftEther.nas_identifier(),
            "{record}"
        );
    }
    assert_refused(&gateway, &adgate, "frank", "telework_off");
    assert_refused(&gateway, &adgate, "bob", "account_disabled");
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), "not-the-password\n").unwrap();
    let (code, said) = gateway.login("alice", wrong.path());
    assert_eq!((code, said), (Some(1), "alice: refused".to_owned()));
    assert_eq!(decision_for(&adgate, "alice")["reason"], "bad_password");
}
