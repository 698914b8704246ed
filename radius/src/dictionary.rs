//! The packet codes and attribute types this crate speaks, by name, each
//! written once, next to the RFC that assigns it. A test checks every number
//! against radius-rs's generated dictionaries (a dev-dependency: see
//! DESIGN.md).

/// RFC 2865 §4.1.
pub(crate) const ACCESS_REQUEST: u8 = 1;
/// RFC 2865 §4.2.
pub(crate) const ACCESS_ACCEPT: u8 = 2;
/// RFC 2865 §4.3.
pub(crate) const ACCESS_REJECT: u8 = 3;
/// RFC 2865 §4.4.
pub(crate) const ACCESS_CHALLENGE: u8 = 11;
/// RFC 2866 §4.1.
pub(crate) const ACCOUNTING_REQUEST: u8 = 4;
/// RFC 2866 §4.2.
pub(crate) const ACCOUNTING_RESPONSE: u8 = 5;
/// RFC 5997 §2 (code 12, assigned by RFC 2865 §3 as experimental).
pub(crate) const STATUS_SERVER: u8 = 12;
/// Codes only a server sends (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2):
/// Access-Accept, Access-Reject, Accounting-Response, Access-Challenge,
/// Disconnect-ACK/NAK, CoA-ACK/NAK. A server receiving one is being
/// reflected to or probed.
pub(crate) const RESPONSE_CODES: [u8; 8] = [
    ACCESS_ACCEPT,
    ACCESS_REJECT,
    ACCOUNTING_RESPONSE,
    ACCESS_CHALLENGE,
    DISCONNECT_ACK,
    DISCONNECT_NAK,
    COA_ACK,
    COA_NAK,
];
/// RFC 5176 §2.1 (the Dynamic Authorization client sends it: `disconnect`).
pub(crate) const DISCONNECT_REQUEST: u8 = 40;
/// RFC 5176 §2.1.
pub(crate) const DISCONNECT_ACK: u8 = 41;
/// RFC 5176 §2.1.
pub(crate) const DISCONNECT_NAK: u8 = 42;
/// RFC 5176 §2.2.
const COA_ACK: u8 = 44;
/// RFC 5176 §2.2.
const COA_NAK: u8 = 45;

/// RFC 2865 §5.1.
pub(crate) const USER_NAME: u8 = 1;
/// RFC 2865 §5.2.
pub(crate) const USER_PASSWORD: u8 = 2;
/// RFC 2865 §5.3.
pub(crate) const CHAP_PASSWORD: u8 = 3;
/// RFC 2865 §5.4.
pub(crate) const NAS_IP_ADDRESS: u8 = 4;
/// RFC 2865 §5.8.
pub(crate) const FRAMED_IP_ADDRESS: u8 = 8;
/// RFC 2865 §5.11.
pub(crate) const FILTER_ID: u8 = 11;
/// RFC 2865 §5.18.
pub(crate) const REPLY_MESSAGE: u8 = 18;
/// RFC 2865 §5.25.
pub(crate) const CLASS: u8 = 25;
/// RFC 2865 §5.12.
pub(crate) const FRAMED_MTU: u8 = 12;
/// RFC 2865 §5.24.
pub(crate) const STATE: u8 = 24;
/// RFC 2865 §5.27.
pub(crate) const SESSION_TIMEOUT: u8 = 27;
/// RFC 2865 §5.31.
pub(crate) const CALLING_STATION_ID: u8 = 31;
/// RFC 2865 §5.32.
pub(crate) const NAS_IDENTIFIER: u8 = 32;
/// RFC 2865 §5.33.
pub(crate) const PROXY_STATE: u8 = 33;
/// RFC 2866 §5.1.
pub(crate) const ACCT_STATUS_TYPE: u8 = 40;
/// RFC 2866 §5.2.
pub(crate) const ACCT_DELAY_TIME: u8 = 41;
/// RFC 2866 §5.3.
pub(crate) const ACCT_INPUT_OCTETS: u8 = 42;
/// RFC 2866 §5.4.
pub(crate) const ACCT_OUTPUT_OCTETS: u8 = 43;
/// RFC 2866 §5.5.
pub(crate) const ACCT_SESSION_ID: u8 = 44;
/// RFC 2866 §5.7.
pub(crate) const ACCT_SESSION_TIME: u8 = 46;
/// RFC 2866 §5.10.
pub(crate) const ACCT_TERMINATE_CAUSE: u8 = 49;
/// RFC 2869 §5.18.
pub(crate) const FRAMED_POOL: u8 = 88;
/// RFC 2869 §5.1.
pub(crate) const ACCT_INPUT_GIGAWORDS: u8 = 52;
/// RFC 2869 §5.2.
pub(crate) const ACCT_OUTPUT_GIGAWORDS: u8 = 53;
/// RFC 2869 §5.4.
pub(crate) const ARAP_PASSWORD: u8 = 70;
/// RFC 2869 §5.13, RFC 3579 §3.1.
pub(crate) const EAP_MESSAGE: u8 = 79;
/// RFC 2869 §5.14, RFC 3579 §3.2.
pub(crate) const MESSAGE_AUTHENTICATOR: u8 = 80;
/// RFC 3162 §2.1.
pub(crate) const NAS_IPV6_ADDRESS: u8 = 95;
/// RFC 2869 §5.3; RFC 5176 §3 and §6.4 (replay protection).
pub(crate) const EVENT_TIMESTAMP: u8 = 55;
/// RFC 5176 §3.5.
pub(crate) const ERROR_CAUSE: u8 = 101;
/// Error-Cause 503 Session Context Not Found (RFC 5176 §3.5).
pub const SESSION_CONTEXT_NOT_FOUND: u32 = 503;

#[cfg(test)]
mod tests {
    use radius::core::code::Code;
    use radius::core::{rfc2865, rfc2866, rfc2869, rfc3162, rfc3576};

    use super::*;

    #[test]
    fn every_number_is_the_one_radius_rs_assigns() {
        let numbers = [
            ("ACCESS_REQUEST", ACCESS_REQUEST, Code::AccessRequest as u8),
            ("ACCESS_ACCEPT", ACCESS_ACCEPT, Code::AccessAccept as u8),
            ("ACCESS_REJECT", ACCESS_REJECT, Code::AccessReject as u8),
            (
                "ACCESS_CHALLENGE",
                ACCESS_CHALLENGE,
                Code::AccessChallenge as u8,
            ),
            (
                "ACCOUNTING_REQUEST",
                ACCOUNTING_REQUEST,
                Code::AccountingRequest as u8,
            ),
            (
                "ACCOUNTING_RESPONSE",
                ACCOUNTING_RESPONSE,
                Code::AccountingResponse as u8,
            ),
            ("STATUS_SERVER", STATUS_SERVER, Code::StatusServer as u8),
            (
                "DISCONNECT_REQUEST",
                DISCONNECT_REQUEST,
                Code::DisconnectRequest as u8,
            ),
            ("DISCONNECT_ACK", DISCONNECT_ACK, Code::DisconnectACK as u8),
            ("DISCONNECT_NAK", DISCONNECT_NAK, Code::DisconnectNAK as u8),
            (
                "EVENT_TIMESTAMP",
                EVENT_TIMESTAMP,
                rfc2869::EVENT_TIMESTAMP_TYPE,
            ),
            ("ERROR_CAUSE", ERROR_CAUSE, rfc3576::ERROR_CAUSE_TYPE),
            ("USER_NAME", USER_NAME, rfc2865::USER_NAME_TYPE),
            ("USER_PASSWORD", USER_PASSWORD, rfc2865::USER_PASSWORD_TYPE),
            ("CHAP_PASSWORD", CHAP_PASSWORD, rfc2865::CHAP_PASSWORD_TYPE),
            (
                "NAS_IP_ADDRESS",
                NAS_IP_ADDRESS,
                rfc2865::NAS_IP_ADDRESS_TYPE,
            ),
            (
                "FRAMED_IP_ADDRESS",
                FRAMED_IP_ADDRESS,
                rfc2865::FRAMED_IP_ADDRESS_TYPE,
            ),
            ("FILTER_ID", FILTER_ID, rfc2865::FILTER_ID_TYPE),
            ("REPLY_MESSAGE", REPLY_MESSAGE, rfc2865::REPLY_MESSAGE_TYPE),
            ("CLASS", CLASS, rfc2865::CLASS_TYPE),
            ("FRAMED_MTU", FRAMED_MTU, rfc2865::FRAMED_MTU_TYPE),
            ("STATE", STATE, rfc2865::STATE_TYPE),
            (
                "SESSION_TIMEOUT",
                SESSION_TIMEOUT,
                rfc2865::SESSION_TIMEOUT_TYPE,
            ),
            (
                "CALLING_STATION_ID",
                CALLING_STATION_ID,
                rfc2865::CALLING_STATION_ID_TYPE,
            ),
            (
                "NAS_IDENTIFIER",
                NAS_IDENTIFIER,
                rfc2865::NAS_IDENTIFIER_TYPE,
            ),
            ("PROXY_STATE", PROXY_STATE, rfc2865::PROXY_STATE_TYPE),
            (
                "ACCT_STATUS_TYPE",
                ACCT_STATUS_TYPE,
                rfc2866::ACCT_STATUS_TYPE_TYPE,
            ),
            (
                "ACCT_DELAY_TIME",
                ACCT_DELAY_TIME,
                rfc2866::ACCT_DELAY_TIME_TYPE,
            ),
            (
                "ACCT_INPUT_OCTETS",
                ACCT_INPUT_OCTETS,
                rfc2866::ACCT_INPUT_OCTETS_TYPE,
            ),
            (
                "ACCT_OUTPUT_OCTETS",
                ACCT_OUTPUT_OCTETS,
                rfc2866::ACCT_OUTPUT_OCTETS_TYPE,
            ),
            (
                "ACCT_SESSION_ID",
                ACCT_SESSION_ID,
                rfc2866::ACCT_SESSION_ID_TYPE,
            ),
            (
                "ACCT_SESSION_TIME",
                ACCT_SESSION_TIME,
                rfc2866::ACCT_SESSION_TIME_TYPE,
            ),
            (
                "ACCT_TERMINATE_CAUSE",
                ACCT_TERMINATE_CAUSE,
                rfc2866::ACCT_TERMINATE_CAUSE_TYPE,
            ),
            ("FRAMED_POOL", FRAMED_POOL, rfc2869::FRAMED_POOL_TYPE),
            (
                "ACCT_INPUT_GIGAWORDS",
                ACCT_INPUT_GIGAWORDS,
                rfc2869::ACCT_INPUT_GIGAWORDS_TYPE,
            ),
            (
                "ACCT_OUTPUT_GIGAWORDS",
                ACCT_OUTPUT_GIGAWORDS,
                rfc2869::ACCT_OUTPUT_GIGAWORDS_TYPE,
            ),
            ("ARAP_PASSWORD", ARAP_PASSWORD, rfc2869::ARAP_PASSWORD_TYPE),
            ("EAP_MESSAGE", EAP_MESSAGE, rfc2869::EAP_MESSAGE_TYPE),
            (
                "MESSAGE_AUTHENTICATOR",
                MESSAGE_AUTHENTICATOR,
                rfc2869::MESSAGE_AUTHENTICATOR_TYPE,
            ),
            (
                "NAS_IPV6_ADDRESS",
                NAS_IPV6_ADDRESS,
                rfc3162::NAS_IPV6_ADDRESS_TYPE,
            ),
            ("DISCONNECT_ACK", DISCONNECT_ACK, Code::DisconnectACK as u8),
            ("DISCONNECT_NAK", DISCONNECT_NAK, Code::DisconnectNAK as u8),
            ("COA_ACK", COA_ACK, Code::CoAACK as u8),
            ("COA_NAK", COA_NAK, Code::CoANAK as u8),
        ];
        for (name, ours, radius_rs) in numbers {
            assert_eq!(ours, radius_rs, "{name}");
        }
        assert_eq!(
            SESSION_CONTEXT_NOT_FOUND,
            rfc3576::ERROR_CAUSE_SESSION_CONTEXT_NOT_FOUND
        );
    }
}
