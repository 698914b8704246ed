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
    assert_members_get_tunnels, assert_others_are_kept_out, password_file, Kind, TunnelGateway,
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
    assert_members_get_tunnels(&gateway, &adgate);
    assert_others_are_kept_out(&gateway, &adgate);
}
