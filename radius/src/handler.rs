//! The contract between the RADIUS server and the application: what it is
//! asked ([`AccessRequest`], [`AccountingRequest`]), what it answers
//! ([`Reply`], [`AccountingReply`]), and what it is told about every
//! datagram dropped before reaching it ([`Discard`]).

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use crate::accounting::AccountingRequest;
use crate::dictionary::{
    CLASS, FILTER_ID, FRAMED_POOL, MESSAGE_AUTHENTICATOR, PROXY_STATE, REPLY_MESSAGE,
    SESSION_TIMEOUT,
};
use crate::packet::MAX_ATTRIBUTE_VALUE_LEN;
use crate::request::AccessRequest;

/// The application behind the server. Calls run concurrently, one task per
/// request, so a slow directory lookup holds up only its own request.
pub trait RequestHandler: Send + Sync + 'static {
    /// Decides an authenticated Access-Request.
    fn access_request(&self, request: AccessRequest) -> impl Future<Output = Reply> + Send;

    /// Records an authenticated Accounting-Request. The NAS gets its
    /// Accounting-Response only for [`AccountingReply::Recorded`] (RFC 2866
    /// §4.1). Handlers that serve no accounting port need not implement it.
    fn accounting_request(
        &self,
        request: AccountingRequest,
    ) -> impl Future<Output = AccountingReply> + Send {
        drop(request);
        std::future::ready(AccountingReply::NotRecorded)
    }

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

/// The outcome of an Accounting-Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountingReply {
    /// Durably recorded: answer with an Accounting-Response.
    Recorded,
    /// Not recorded: stay silent so the NAS retransmits (RFC 2866 §4.1).
    NotRecorded,
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

    /// Class (RFC 2865 §5.25): opaque to the NAS, which echoes it unchanged
    /// in the session's Accounting-Requests.
    pub fn class(value: Vec<u8>) -> Result<Self, InvalidReplyAttribute> {
        Self::new(CLASS, value)
    }

    /// Filter-Id (RFC 2865 §5.11): the name of a filter list the NAS applies to the session.
    pub fn filter_id(name: &str) -> Result<Self, InvalidReplyAttribute> {
        Self::new(FILTER_ID, name.as_bytes().to_vec())
    }

    /// Session-Timeout (RFC 2865 §5.27): in an Access-Accept, the most seconds the session may
    /// last before the NAS ends it.
    pub fn session_timeout(seconds: u32) -> Self {
        Self {
            attribute_type: SESSION_TIMEOUT,
            value: seconds.to_be_bytes().to_vec(),
        }
    }

    /// Framed-Pool (RFC 2869 §5.18): the name of the address pool the NAS assigns from.
    pub fn framed_pool(name: &str) -> Result<Self, InvalidReplyAttribute> {
        Self::new(FRAMED_POOL, name.as_bytes().to_vec())
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
    /// The Request Authenticator does not authenticate the request: an
    /// Accounting-Request's does not verify (RFC 2866 §3), or a
    /// User-Password is not 16 to 128 octets in whole 16-octet blocks, so
    /// what it protects cannot be recovered (RFC 2865 §5.2).
    BadRequestAuthenticator,
    /// The client must send a Message-Authenticator and did not
    /// (BlastRADIUS mitigation, CVE-2024-3596).
    MissingMessageAuthenticator,
    /// The Message-Authenticator does not verify (RFC 3579 §3.2): a wrong
    /// shared secret, or a tampered packet.
    BadMessageAuthenticator,
    /// A code only servers send (Access-Accept, Accounting-Response, …):
    /// reflected or spoofed traffic (RFC 2865 §3).
    UnexpectedResponse,
    /// A request lacking what RFC 2865 §4.1/§5.44 or RFC 2866 §4.1 makes
    /// mandatory: NAS-IP-Address or NAS-Identifier, or Acct-Status-Type.
    MissingAttribute,
    /// More than one of User-Password, CHAP-Password, ARAP-Password and
    /// EAP-Message (RFC 2865 §4.1, §5.44; RFC 3579 §3.3).
    ConflictingCredentials,
    /// Proxy-State without Message-Authenticator from a client with
    /// `limit_proxy_state`: the shape of a BlastRADIUS forgery.
    ProxyStateWithoutMessageAuthenticator,
}

impl DiscardReason {
    /// Every reason, for counters indexed by reason.
    pub const ALL: [DiscardReason; 10] = [
        Self::UnknownClient,
        Self::Malformed,
        Self::UnsupportedCode,
        Self::BadRequestAuthenticator,
        Self::MissingMessageAuthenticator,
        Self::BadMessageAuthenticator,
        Self::UnexpectedResponse,
        Self::MissingAttribute,
        Self::ConflictingCredentials,
        Self::ProxyStateWithoutMessageAuthenticator,
    ];

    /// A stable snake_case code for logs and the audit trail.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UnknownClient => "unknown_client",
            Self::Malformed => "malformed",
            Self::UnsupportedCode => "unsupported_code",
            Self::BadRequestAuthenticator => "bad_request_authenticator",
            Self::MissingMessageAuthenticator => "missing_message_authenticator",
            Self::BadMessageAuthenticator => "bad_message_authenticator",
            Self::UnexpectedResponse => "unexpected_response",
            Self::MissingAttribute => "missing_attribute",
            Self::ConflictingCredentials => "conflicting_credentials",
            Self::ProxyStateWithoutMessageAuthenticator => {
                "proxy_state_without_message_authenticator"
            }
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
            (DiscardReason::UnexpectedResponse, "unexpected_response"),
            (DiscardReason::MissingAttribute, "missing_attribute"),
            (
                DiscardReason::ConflictingCredentials,
                "conflicting_credentials",
            ),
            (
                DiscardReason::ProxyStateWithoutMessageAuthenticator,
                "proxy_state_without_message_authenticator",
            ),
        ];
        assert_eq!(reasons.map(|(reason, _)| reason), DiscardReason::ALL);
        for (reason, code) in reasons {
            assert_eq!(reason.as_str(), code);
            assert_eq!(reason.to_string(), code);
        }
    }
}
