//! The packet codes and attribute types this crate speaks, by name.
//!
//! The numbers come from radius-rs's generated dictionaries, so each is
//! spelled once, next to the RFC that assigns it.

use radius::core::code::Code;
use radius::core::{rfc2865, rfc2869, rfc3162};

/// RFC 2865 §4.1.
pub(crate) const ACCESS_REQUEST: u8 = Code::AccessRequest as u8;
/// RFC 2865 §4.2.
pub(crate) const ACCESS_ACCEPT: u8 = Code::AccessAccept as u8;
/// RFC 2865 §4.3.
pub(crate) const ACCESS_REJECT: u8 = Code::AccessReject as u8;
/// RFC 2865 §4.4.
pub(crate) const ACCESS_CHALLENGE: u8 = Code::AccessChallenge as u8;

/// RFC 2865 §5.1.
pub(crate) const USER_NAME: u8 = rfc2865::USER_NAME_TYPE;
/// RFC 2865 §5.2.
pub(crate) const USER_PASSWORD: u8 = rfc2865::USER_PASSWORD_TYPE;
/// RFC 2865 §5.3.
pub(crate) const CHAP_PASSWORD: u8 = rfc2865::CHAP_PASSWORD_TYPE;
/// RFC 2865 §5.4.
pub(crate) const NAS_IP_ADDRESS: u8 = rfc2865::NAS_IP_ADDRESS_TYPE;
/// RFC 2865 §5.18.
pub(crate) const REPLY_MESSAGE: u8 = rfc2865::REPLY_MESSAGE_TYPE;
/// RFC 2865 §5.12.
pub(crate) const FRAMED_MTU: u8 = rfc2865::FRAMED_MTU_TYPE;
/// RFC 2865 §5.24.
pub(crate) const STATE: u8 = rfc2865::STATE_TYPE;
/// RFC 2865 §5.31.
pub(crate) const CALLING_STATION_ID: u8 = rfc2865::CALLING_STATION_ID_TYPE;
/// RFC 2865 §5.32.
pub(crate) const NAS_IDENTIFIER: u8 = rfc2865::NAS_IDENTIFIER_TYPE;
/// RFC 2865 §5.33.
pub(crate) const PROXY_STATE: u8 = rfc2865::PROXY_STATE_TYPE;
/// RFC 2869 §5.4.
pub(crate) const ARAP_PASSWORD: u8 = rfc2869::ARAP_PASSWORD_TYPE;
/// RFC 2869 §5.13, RFC 3579 §3.1.
pub(crate) const EAP_MESSAGE: u8 = rfc2869::EAP_MESSAGE_TYPE;
/// RFC 2869 §5.14, RFC 3579 §3.2.
pub(crate) const MESSAGE_AUTHENTICATOR: u8 = rfc2869::MESSAGE_AUTHENTICATOR_TYPE;
/// RFC 3162 §2.1.
pub(crate) const NAS_IPV6_ADDRESS: u8 = rfc3162::NAS_IPV6_ADDRESS_TYPE;
