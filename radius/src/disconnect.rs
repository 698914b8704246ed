//! The Dynamic Authorization client of RFC 5176: adgate asks a NAS to end a
//! live session (a Disconnect-Request) when the directory no longer allows
//! it, and learns whether the NAS did.
//!
//! - `profile`: which attributes name the session, per NAS kind.
//! - `request`: the signed Disconnect-Request octets.
//! - `response`: checking a Disconnect-ACK/NAK.
//! - `pending`: the 256 Identifiers of a socket and who waits on them.
//! - `sender`: the socket, the receive task, retransmission.
//! - `outcome` and `counters`: what the caller and the metrics see.

mod counters;
mod outcome;
mod pending;
mod profile;
mod request;
mod response;
mod sender;

pub use counters::{DisconnectCounters, DroppedResponse};
pub use outcome::{DisconnectError, DisconnectOutcome};
pub use profile::{DisconnectProfile, SessionIdentification};
pub use sender::{DisconnectSender, RetransmitSchedule};
