//! The packet codes and attribute types this crate speaks, by name.
//!
//! The numbers come from radius-rs's generated dictionaries, so each is
//! spelled once, next to the RFC that assigns it.

use radius::core::code::Code;
use radius::core::{rfc2865, rfc2866, rfc2869, rfc3162, rfc3576};

/// RFC 2865 §4.1.
pub(crate) const ACCESS_REQUEST: u8 = Code::AccessRequest as u8;
/// RFC 2865 §4.2.
pub(crate) const ACCESS_ACCEPT: u8 = Code::AccessAccept as u8;
/// RFC 2865 §4.3.
pub(crate) const ACCESS_REJECT: u8 = Code::AccessReject as u8;
/// RFC 2865 §4.4.
pub(crate) const ACCESS_CHALLENGE: u8 = Code::AccessChallenge as u8;
/// RFC 2866 §4.1.
pub(crate) const ACCOUNTING_REQUEST: u8 = Code::AccountingRequest as u8;
/// RFC 2866 §4.2.
pub(crate) const ACCOUNTING_RESPONSE: u8 = Code::AccountingResponse as u8;
/// RFC 5997 §2 (code 12, assigned by RFC 2865 §3 as experimental).
pub(crate) const STATUS_SERVER: u8 = Code::StatusServer as u8;
/// RFC 5176 §2.3.
pub(crate) const DISCONNECT_REQUEST: u8 = Code::DisconnectRequest as u8;
/// RFC 5176 §2.3.
pub(crate) const DISCONNECT_ACK: u8 = Code::DisconnectACK as u8;
/// RFC 5176 §2.3.
pub(crate) const DISCONNECT_NAK: u8 = Code::DisconnectNAK as u8;
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
    Code::CoAACK as u8,
    Code::CoANAK as u8,
];

/// RFC 2865 §5.1.
pub(crate) const USER_NAME: u8 = rfc2865::USER_NAME_TYPE;
/// RFC 2865 §5.2.
pub(crate) const USER_PASSWORD: u8 = rfc2865::USER_PASSWORD_TYPE;
/// RFC 2865 §5.3.
pub(crate) const CHAP_PASSWORD: u8 = rfc2865::CHAP_PASSWORD_TYPE;
/// RFC 2865 §5.4.
pub(crate) const NAS_IP_ADDRESS: u8 = rfc2865::NAS_IP_ADDRESS_TYPE;
/// RFC 2865 §5.8.
pub(crate) const FRAMED_IP_ADDRESS: u8 = rfc2865::FRAMED_IP_ADDRESS_TYPE;
/// RFC 2865 §5.11.
pub(crate) const FILTER_ID: u8 = rfc2865::FILTER_ID_TYPE;
/// RFC 2865 §5.18.
pub(crate) const REPLY_MESSAGE: u8 = rfc2865::REPLY_MESSAGE_TYPE;
/// RFC 2865 §5.25.
pub(crate) const CLASS: u8 = rfc2865::CLASS_TYPE;
/// RFC 2865 §5.12.
pub(crate) const FRAMED_MTU: u8 = rfc2865::FRAMED_MTU_TYPE;
/// RFC 2865 §5.24.
pub(crate) const STATE: u8 = rfc2865::STATE_TYPE;
/// RFC 2865 §5.27.
pub(crate) const SESSION_TIMEOUT: u8 = rfc2865::SESSION_TIMEOUT_TYPE;
/// RFC 2865 §5.31.
pub(crate) const CALLING_STATION_ID: u8 = rfc2865::CALLING_STATION_ID_TYPE;
/// RFC 2865 §5.32.
pub(crate) const NAS_IDENTIFIER: u8 = rfc2865::NAS_IDENTIFIER_TYPE;
/// RFC 2865 §5.33.
pub(crate) const PROXY_STATE: u8 = rfc2865::PROXY_STATE_TYPE;
/// RFC 2866 §5.1.
pub(crate) const ACCT_STATUS_TYPE: u8 = rfc2866::ACCT_STATUS_TYPE_TYPE;
/// RFC 2866 §5.2.
pub(crate) const ACCT_DELAY_TIME: u8 = rfc2866::ACCT_DELAY_TIME_TYPE;
/// RFC 2866 §5.3.
pub(crate) const ACCT_INPUT_OCTETS: u8 = rfc2866::ACCT_INPUT_OCTETS_TYPE;
/// RFC 2866 §5.4.
pub(crate) const ACCT_OUTPUT_OCTETS: u8 = rfc2866::ACCT_OUTPUT_OCTETS_TYPE;
/// RFC 2866 §5.5.
pub(crate) const ACCT_SESSION_ID: u8 = rfc2866::ACCT_SESSION_ID_TYPE;
/// RFC 2866 §5.7.
pub(crate) const ACCT_SESSION_TIME: u8 = rfc2866::ACCT_SESSION_TIME_TYPE;
/// RFC 2866 §5.10.
pub(crate) const ACCT_TERMINATE_CAUSE: u8 = rfc2866::ACCT_TERMINATE_CAUSE_TYPE;
/// RFC 2869 §5.18.
pub(crate) const FRAMED_POOL: u8 = rfc2869::FRAMED_POOL_TYPE;
/// RFC 2869 §5.1.
pub(crate) const ACCT_INPUT_GIGAWORDS: u8 = rfc2869::ACCT_INPUT_GIGAWORDS_TYPE;
/// RFC 2869 §5.2.
pub(crate) const ACCT_OUTPUT_GIGAWORDS: u8 = rfc2869::ACCT_OUTPUT_GIGAWORDS_TYPE;
/// RFC 2869 §5.4.
pub(crate) const ARAP_PASSWORD: u8 = rfc2869::ARAP_PASSWORD_TYPE;
/// RFC 2869 §5.3; RFC 5176 §3 and §6.4 (replay protection).
pub(crate) const EVENT_TIMESTAMP: u8 = rfc2869::EVENT_TIMESTAMP_TYPE;
/// RFC 2869 §5.13, RFC 3579 §3.1.
pub(crate) const EAP_MESSAGE: u8 = rfc2869::EAP_MESSAGE_TYPE;
/// RFC 2869 §5.14, RFC 3579 §3.2.
pub(crate) const MESSAGE_AUTHENTICATOR: u8 = rfc2869::MESSAGE_AUTHENTICATOR_TYPE;
/// RFC 3162 §2.1.
pub(crate) const NAS_IPV6_ADDRESS: u8 = rfc3162::NAS_IPV6_ADDRESS_TYPE;
/// RFC 5176 §3.5.
pub(crate) const ERROR_CAUSE: u8 = rfc3576::ERROR_CAUSE_TYPE;
/// Error-Cause 503 Session Context Not Found (RFC 5176 §3.5).
pub const SESSION_CONTEXT_NOT_FOUND: u32 = rfc3576::ERROR_CAUSE_SESSION_CONTEXT_NOT_FOUND;
