//! The contract between the RADIUS server and the application: what it is
//! asked ([`AccessRequest`]), what it answers ([`Reply`]), and what it is
//! told about every datagram dropped before reaching it ([`Discard`]).

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use crate::dictionary::{MESSAGE_AUTHENTICATOR, PROXY_STATE, REPLY_MESSAGE};
use crate::packet::MAX_ATTRIBUTE_VALUE_LEN;
use crate::request::AccessRequest;

/// The application behind the server. Calls run concurrently, one task per
/// request, so a slow directory lookup holds up only its own request.
pub trait RequestHandler: Send + Sync + 'static {
    /// Decides an authenticated Access-Request.
    fn access_request(&self, request: AccessRequest) -> impl Future<Output = Reply> + Send;

    /// Records a datagram dropped without an answer, for the audit trail.
    /// The NAS sees nothing (RFC 2865 §3: silently discard).
    fn discarded(&self, discard: Discard) -> impl Future<Output = ()> + Send;
}

/// The decision on an Access-Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Access-Accept (RFC 2865 §4.2) carrying these attributes.
    Accept { attributes: Vec<ReplyAttribute> },
    /// Access-Reject (RFC 2865 §4.3). It carries no reason: why a login
    /// failed is for the audit log, not for whoever is at the NAS.
    Reject,
    /// Access-Challenge (RFC 2865 §4.4) carrying these attributes: the next
    /// EAP request and the State to echo (RFC 3579 §2.6.3).
    Challenge { attributes: Vec<ReplyAttribute> },
    /// Access-Reject carrying these attributes, for EAP: the EAP-Failure
    /// the peer must see (RFC 3579 §2.6.3). Still no reason.
    RejectWith { attributes: Vec<ReplyAttribute> },
}

/// One attribute of an Access-Accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyAttribute {
    attribute_type: u8,
    value: Vec<u8>,
}

/// Why a [`ReplyAttribute`] cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReplyAttribute {
    /// Values hold 1 to 253 octets (RFC 2865 §5; RFC 8044 §3.5: omit the
    /// attribute instead of sending it empty).
    #[error("attribute values must be 1 to 253 octets long")]
    InvalidLength,
    /// Message-Authenticator and Proxy-State are written by the server itself.
    #[error("attribute {0} is written by the server itself")]
    Reserved(u8),
}

impl ReplyAttribute {
    /// An attribute of any type except those the server writes itself.
    pub fn new(attribute_type: u8, value: Vec<u8>) -> Result<Self, InvalidReplyAttribute> {
        if [MESSAGE_AUTHENTICATOR, PROXY_STATE].contains(&attribute_type) {
            return Err(InvalidReplyAttribute::Reserved(attribute_type));
        }
        if !(1..=MAX_ATTRIBUTE_VALUE_LEN).contains(&value.len()) {
            return Err(InvalidReplyAttribute::InvalidLength);
        }
        Ok(Self {
            attribute_type,
            value,
        })
    }

    /// Reply-Message (RFC 2865 §5.18): text the NAS may show the user.
    pub fn reply_message(text: &str) -> Result<Self, InvalidReplyAttribute> {
        Self::new(REPLY_MESSAGE, text.as_bytes().to_vec())
    }

    /// The attribute type (RFC 2865 §5).
    pub fn attribute_type(&self) -> u8 {
        self.attribute_type
    }

    /// The value octets, without Type and Length.
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

/// A datagram dropped before reaching [`RequestHandler::access_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discard {
    /// Where the datagram came from.
    pub source: SocketAddr,
    /// The configured client name, when the source is a known client.
    pub client: Option<String>,
    /// The packet Identifier, when the datagram parsed as a packet.
    pub identifier: Option<u8>,
    /// The first User-Name, as sent, when the datagram parsed as a packet.
    /// Unauthenticated when `reason` is about authentication.
    pub user_name: Option<Vec<u8>>,
    /// Why it was dropped.
    pub reason: DiscardReason,
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscardReason {
    /// The source address matches no configured client (RFC 2865 §3).
    UnknownClient,
    /// Not a well-formed packet: bad lengths (RFC 2865 §3, §5), a datagram
    /// over 4096 octets, or a repeated or mis-sized attribute.
    Malformed,
    /// A packet code this server does not serve (RFC 2865 §3).
    UnsupportedCode,
    /// Content protected by the Request Authenticator cannot be recovered:
    /// a User-Password that is not 16 to 128 octets in whole 16-octet
    /// blocks (RFC 2865 §5.2).
    BadRequestAuthenticator,
    /// The client must send a Message-Authenticator and did not
    /// (BlastRADIUS mitigation, CVE-2024-3596).
    MissingMessageAuthenticator,
    /// The Message-Authenticator does not verify (RFC 3579 §3.2): a wrong
    /// shared secret, or a tampered packet.
    BadMessageAuthenticator,
}

impl DiscardReason {
    /// A stable snake_case code for logs and the audit trail.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UnknownClient => "unknown_client",
            Self::Malformed => "malformed",
            Self::UnsupportedCode => "unsupported_code",
            Self::BadRequestAuthenticator => "bad_request_authenticator",
            Self::MissingMessageAuthenticator => "missing_message_authenticator",
            Self::BadMessageAuthenticator => "bad_message_authenticator",
        }
    }
}

impl fmt::Display for DiscardReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_attributes_respect_rfc_limits() {
        let message = ReplyAttribute::reply_message("welcome").unwrap();
        assert_eq!(
            (message.attribute_type(), message.value()),
            (18, &b"welcome"[..])
        );
        assert!(ReplyAttribute::new(25, vec![0; 253]).is_ok());
        assert_eq!(
            ReplyAttribute::new(25, vec![0; 254]),
            Err(InvalidReplyAttribute::InvalidLength)
        );
        assert_eq!(
            ReplyAttribute::reply_message(""),
            Err(InvalidReplyAttribute::InvalidLength)
        );
        assert_eq!(
            ReplyAttribute::new(80, vec![0; 16]),
            Err(InvalidReplyAttribute::Reserved(80))
        );
        assert_eq!(
            ReplyAttribute::new(33, vec![1]),
            Err(InvalidReplyAttribute::Reserved(33))
        );
    }

    #[test]
    fn discard_reasons_have_stable_codes() {
        let reasons = [
            (DiscardReason::UnknownClient, "unknown_client"),
            (DiscardReason::Malformed, "malformed"),
            (DiscardReason::UnsupportedCode, "unsupported_code"),
            (
                DiscardReason::BadRequestAuthenticator,
                "bad_request_authenticator",
            ),
            (
                DiscardReason::MissingMessageAuthenticator,
                "missing_message_authenticator",
            ),
            (
                DiscardReason::BadMessageAuthenticator,
                "bad_message_authenticator",
            ),
        ];
        for (reason, code) in reasons {
            assert_eq!(reason.as_str(), code);
            assert_eq!(reason.to_string(), code);
        }
    }
}
