//! RADIUS for adgate: the wire format, its authenticators, the UDP server
//! loop that admits Access-Requests from known NASes, and a NAS client.
//!
//! The crate implements the parts of RFC 2865 (RADIUS), RFC 3579 §3.2
//! (Message-Authenticator) and RFC 5080 that a PAP-only authentication
//! server needs, hardened against BlastRADIUS (CVE-2024-3596): every
//! response carries a Message-Authenticator first, and clients can be
//! required to send one. The application plugs in as a [`RequestHandler`].

pub mod client;
pub mod clients;
pub mod eap;
pub mod handler;
pub mod mppe_keys;
pub mod password;
pub mod request;
pub mod secret;
pub mod server;

mod dictionary;
mod message_authenticator;
mod packet;
mod receive;
mod response;
mod response_authenticator;
mod user_password;

#[cfg(test)]
mod test_vectors;

pub use client::{ClientError, ClientOptions, RadiusClient, Response, ResponseCode};
pub use clients::{ClientTable, NasClient};
pub use eap::{EapCode, EapPacket};
pub use handler::{
    Discard, DiscardReason, InvalidReplyAttribute, Reply, ReplyAttribute, RequestHandler,
};
pub use password::Password;
pub use request::{AccessRequest, Credential};
pub use secret::SharedSecret;
pub use server::UdpServer;
