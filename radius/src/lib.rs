//! RADIUS for adgate: the wire format, its authenticators, the UDP server
//! loop that admits Access-Requests and Accounting-Requests from known NASes,
//! the stream transport RadSec runs inside TLS, EAP framing, the Dynamic
//! Authorization client that asks a NAS to end a session, and simulators of
//! both NAS roles for tests (a RADIUS client and a Disconnect-Request
//! listener).
//!
//! The crate implements the parts of RFC 2865 (RADIUS), RFC 2866
//! (accounting), RFC 3579 (EAP and Message-Authenticator), RFC 5080
//! (duplicate detection and retransmission), RFC 5176 (Disconnect-Request)
//! and RFC 5997 (Status-Server) that adgate needs, hardened against
//! BlastRADIUS (CVE-2024-3596): every Access response and every
//! Disconnect-Request carries a Message-Authenticator first, and clients can
//! be required to send one. The application plugs in as a
//! [`RequestHandler`], and ends sessions through a [`DisconnectSender`] per
//! NAS.

#![forbid(unsafe_code)]

pub mod accounting;
pub mod client;
pub mod clients;
pub mod counters;
pub mod das;
pub mod disconnect;
pub mod eap;
pub mod eap_mschapv2;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod handler;
pub mod mppe_keys;
pub mod ms_chap;
pub mod mschapv2;
pub mod password;
pub mod peap;
pub mod request;
pub mod request_queue;
pub mod secret;
pub mod server;
pub mod stream;

mod attribute_values;
mod dictionary;
mod message_authenticator;
mod misconfiguration;
mod packet;
mod receive;
mod reject_delay;
mod request_authenticator;
mod response;
mod response_authenticator;
mod response_cache;
mod user_password;
mod vendor_specific;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod test_vectors;

pub use accounting::{AccountingRequest, AccountingStatus};
pub use client::{ClientError, ClientOptions, RadiusClient, Response, ResponseCode};
pub use clients::{ClientState, ClientTable, MessageAuthenticatorRule, NasClient};
pub use counters::{Counters, Skip};
pub use das::{DasBehaviour, ReceivedDisconnect, SimulatedDas};
pub use dictionary::SESSION_CONTEXT_NOT_FOUND;
pub use disconnect::{
    DisconnectCounters, DisconnectError, DisconnectOutcome, DisconnectProfile, DisconnectSender,
    DroppedResponse, RetransmitSchedule, SessionIdentification,
};
pub use eap::{EapCode, EapMessage, EapPacket};
pub use handler::{
    AccountingReply, Discard, DiscardReason, InvalidReplyAttribute, Reply, ReplyAttribute,
    RequestHandler,
};
pub use ms_chap::MsChap2Request;
pub use password::Password;
pub use request::{AccessRequest, Credential};
pub use request_queue::QueueLimits;
pub use secret::SharedSecret;
pub use server::{Service, UdpServer};
pub use stream::StreamServer;
