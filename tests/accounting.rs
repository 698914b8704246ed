//! Accounting (RFC 2866) as a VPN appliance and an auditor see it: Start and Stop are answered
//! only once recorded, carry the session's facts into the trail, and link back to the access
//! decision through the Class attribute of the Access-Accept.
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
use common::{class_of, Adgate, Lab};
use serde_json::Value;

const USER_NAME: u8 = 1;
const FRAMED_IP_ADDRESS: u8 = 8;
const CLASS: u8 = 25;
const CALLING_STATION_ID: u8 = 31;
const ACCT_STATUS_TYPE: u8 = 40;
const ACCT_INPUT_OCTETS: u8 = 42;
const ACCT_OUTPUT_OCTETS: u8 = 43;
const ACCT_SESSION_ID: u8 = 44;
const ACCT_SESSION_TIME: u8 = 46;
const ACCT_TERMINATE_CAUSE: u8 = 49;
const ACCT_INPUT_GIGAWORDS: u8 = 52;

fn accounting_record(adgate: &Adgate, status_type: &str) -> Value {
    adgate
        .records()
        .into_iter()
        .find(|record| record["accounting"]["status_type"] == status_type)
        .unwrap_or_else(|| panic!("no {status_type} record: {:?}", adgate.records()))
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn start_and_stop_are_recorded_before_the_answer_and_linked_to_the_decision() {
    let adgate = Adgate::start();
    let (accept, decision) = adgate.pap("alice", &Lab::get().fixture_password()).await;
    assert_eq!(accept.code, ResponseCode::Accept);
    let class = class_of(&accept);

    let nas = adgate.accounting_nas();
    let start: [(u8, &[u8]); 6] = [
        (ACCT_STATUS_TYPE, &1u32.to_be_bytes()),
        (ACCT_SESSION_ID, b"session-42"),
        (USER_NAME, b"alice"),
        (FRAMED_IP_ADDRESS, &[10, 8, 0, 7]),
        (CALLING_STATION_ID, b"203.0.113.7"),
        (CLASS, &class),
    ];
    let answer = nas.accounting(&start).await.unwrap();
    assert_eq!(answer.code, ResponseCode::AccountingResponse);
    // Read at once, without waiting: the record exists before the answer is sent.
    let record = accounting_record(&adgate, "start");
    assert_eq!(record["verdict"], "recorded");
    assert_eq!(
        record["accounting"]["decision_request_id"],
        decision["request_id"]
    );
    assert_eq!(record["accounting"]["session_id"], "session-42");
    assert_eq!(record["accounting"]["framed_ip_address"], "10.8.0.7");
    assert_eq!(record["calling_station_id"], "203.0.113.7");
    assert_eq!(record["user_name"], "alice");
    assert_eq!(record["nas"]["name"], "vpn1");

    let stop: [(u8, &[u8]); 9] = [
        (ACCT_STATUS_TYPE, &2u32.to_be_bytes()),
        (ACCT_SESSION_ID, b"session-42"),
        (USER_NAME, b"alice"),
        (ACCT_SESSION_TIME, &3600u32.to_be_bytes()),
        (ACCT_INPUT_OCTETS, &1000u32.to_be_bytes()),
        (ACCT_INPUT_GIGAWORDS, &1u32.to_be_bytes()),
        (ACCT_OUTPUT_OCTETS, &2000u32.to_be_bytes()),
        (ACCT_TERMINATE_CAUSE, &1u32.to_be_bytes()),
        (CLASS, &class),
    ];
    let answer = nas.accounting(&stop).await.unwrap();
    assert_eq!(answer.code, ResponseCode::AccountingResponse);
    let record = accounting_record(&adgate, "stop");
    let accounting = &record["accounting"];
    assert_eq!(accounting["decision_request_id"], decision["request_id"]);
    assert_eq!(accounting["session_time"], 3600);
    assert_eq!(accounting["input_octets"], (1u64 << 32) + 1000);
    assert_eq!(accounting["output_octets"], 2000);
    assert_eq!(accounting["terminate_cause"], 1);
}

#[tokio::test]
async fn accounting_signed_with_a_wrong_secret_is_neither_answered_nor_recorded() {
    let adgate = Adgate::start_without_dc();
    let nas = adgate.nas_to(
        adgate.acct_address,
        false,
        b"this-is-not-the-shared-secret".to_vec(),
    );
    let on: [(u8, &[u8]); 1] = [(ACCT_STATUS_TYPE, &7u32.to_be_bytes())];
    let result = nas.accounting(&on).await;
    assert!(result.is_err(), "{result:?}");
    let records = adgate.wait_for_records(1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["verdict"], "discard");
    assert_eq!(records[0]["reason"], "bad_request_authenticator");
}
