//! RFC 5080 §2.2.2 as the NAS and AD see it: a retransmitted request gets the byte-identical
//! answer, and AD counts a retransmitted bad password once, not once per copy.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use adgate_radius::ResponseCode;
use common::{Adgate, Lab};

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_retransmitted_wrong_password_gets_the_cached_reject_and_ad_counts_it_once() {
    let lab = Lab::get();
    let adgate = Adgate::start();
    let before = lab.bad_pwd_count("lockme");
    let request = adgate
        .nas()
        .pap_datagram(b"lockme", b"not-the-password-of-lockme")
        .await
        .unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let first = adgate.exchange_raw(&socket, &request);
    let retransmitted = adgate.exchange_raw(&socket, &request);
    assert_eq!(first[0], 3, "Access-Reject");
    assert_eq!(retransmitted, first);
    assert_eq!(lab.bad_pwd_count("lockme"), before + 1);
    let decisions: Vec<_> = adgate
        .records()
        .into_iter()
        .filter(|record| record["user_name"] == "lockme")
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["reason"], "bad_password");

    // A good login resets AD's count, so repeated runs never lock the account.
    let (response, _) = adgate.pap("lockme", &lab.fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Accept);
    assert_eq!(lab.bad_pwd_count("lockme"), 0);
}
