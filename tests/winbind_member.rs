//! adgate's NT-Response checker (`adgate_authz::Winbind`) against the lab's real domain member
//! (`deploy/lab.sh`: winbindd joined to the lab AD): what the DC says for each fixture account,
//! the key it returns, and that winbindd going away makes checks unavailable at once and its
//! return makes them work again, without a new pool.
//!
//! One test, in steps: it stops and starts the member's winbindd, which no other test in this
//! binary may see. It costs alice one bad password (the lockout threshold is 10; `lab.sh up`
//! resets the count).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use adgate_authz::{NtResponseCheck, NtResponseError, NtResponseRefusal, Winbind, WinbindSettings};
use adgate_radius::mschapv2::{challenge_hash, nt_response, password_hash, password_hash_hash};
use common::Lab;

const AUTHENTICATOR_CHALLENGE: [u8; 16] = *b"adgate-auth-chal";
const PEER_CHALLENGE: [u8; 16] = *b"adgate-peer-chal";

fn winbind(lab: &Lab) -> Winbind {
    Winbind::new(WinbindSettings {
        ntlm_auth: vec![lab.value("NTLM_AUTH").to_owned()],
        smb_conf: lab.value("MEMBER_SMB_CONF").into(),
        helpers: 2,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

/// Checks `account`'s MS-CHAPv2 response for `password`, computed as a peer does.
async fn check(
    winbind: &Winbind,
    account: &str,
    password: &str,
) -> Result<[u8; 16], NtResponseError> {
    let check = NtResponseCheck {
        account,
        domain: "CORP",
        challenge: challenge_hash(
            &PEER_CHALLENGE,
            &AUTHENTICATOR_CHALLENGE,
            account.as_bytes(),
        ),
        nt_response: nt_response(
            &AUTHENTICATOR_CHALLENGE,
            &PEER_CHALLENGE,
            account.as_bytes(),
            password,
        ),
    };
    winbind.check_nt_response(&check).await.map(|key| *key)
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn the_member_checks_responses_and_its_outage_is_unavailable_not_a_hang() {
    let lab = Lab::get();
    let password = String::from_utf8(lab.fixture_password()).unwrap();
    let winbind = winbind(lab);

    // The key is the hash of the NT password hash (RFC 2759 §8.4): what S= and the keys need.
    let expected = *password_hash_hash(&password_hash(&password));
    assert_eq!(check(&winbind, "alice", &password).await, Ok(expected));
    assert_eq!(
        check(&winbind, "alice", "not-the-password").await,
        Err(NtResponseError::Refused(NtResponseRefusal::WrongPassword))
    );
    // Each account state, as the DC words it with the right password.
    for (account, refusal) in [
        ("bob", NtResponseRefusal::AccountDisabled),
        ("carol", NtResponseRefusal::AccountExpired),
        ("dave", NtResponseRefusal::AccountLockedOut),
        ("erin", NtResponseRefusal::PasswordMustChange),
        ("nobody", NtResponseRefusal::NoSuchUser),
    ] {
        assert_eq!(
            check(&winbind, account, &password).await,
            Err(NtResponseError::Refused(refusal)),
            "{account}"
        );
    }

    lab.lab_sh(&["member", "stop"]);
    let started = Instant::now();
    let outcome = check(&winbind, "alice", &password).await;
    let restart = lab.try_lab_sh(&["member", "start"]);
    assert!(
        matches!(outcome, Err(NtResponseError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    restart.unwrap();
    assert_eq!(check(&winbind, "alice", &password).await, Ok(expected));
}
