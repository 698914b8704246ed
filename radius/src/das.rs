//! A simulated Dynamic Authorization Server (RFC 5176): the NAS side that
//! receives Disconnect-Requests, for tests of the Disconnect sender here and
//! in the binary, as `client.rs` simulates the NAS side of logins.
//!
//! It checks each request as a NAS must before acting on it (RFC 5176 §3:
//! Code 40, the Request Authenticator of §2.3, a Message-Authenticator of
//! §3.4 when present) and silently discards the rest, records what it
//! accepted, and answers as told: ACK, NAK, nothing, or a forged ACK. Its
//! answers carry a Message-Authenticator first, as a hardened NAS's do.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::dictionary::{
    DISCONNECT_ACK, DISCONNECT_NAK, DISCONNECT_REQUEST, ERROR_CAUSE, MESSAGE_AUTHENTICATOR,
};
use crate::message_authenticator;
use crate::packet::{Packet, PacketWriter, MAX_PACKET_LEN};
use crate::request_authenticator;
use crate::response_authenticator;
use crate::secret::SharedSecret;

/// How the simulated NAS answers a valid Disconnect-Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DasBehaviour {
    /// Disconnect-ACK: the session was ended.
    Ack,
    /// Disconnect-NAK, with this Error-Cause (RFC 5176 §3.5) if any.
    Nak { error_cause: Option<u32> },
    /// No answer at all.
    Silent,
    /// A Disconnect-ACK signed with another secret, as an attacker (or a
    /// NAS configured with a different secret) would send.
    ForgedAck,
}

/// A Disconnect-Request the simulated NAS accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedDisconnect {
    pub source: SocketAddr,
    /// The datagram as received.
    pub datagram: Vec<u8>,
    pub identifier: u8,
    /// Every attribute in order, Message-Authenticator included.
    pub attributes: Vec<(u8, Vec<u8>)>,
}

impl ReceivedDisconnect {
    /// The value of the first attribute of this type.
    pub fn attribute(&self, attribute_type: u8) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|(found, _)| *found == attribute_type)
            .map(|(_, value)| value.as_slice())
    }
}

/// A NAS's Disconnect-Request listener on a loopback UDP port; it stops
/// when dropped.
pub struct SimulatedDas {
    local_addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

struct State {
    socket: UdpSocket,
    secret: SharedSecret,
    behaviour: Mutex<DasBehaviour>,
    received: Mutex<Vec<ReceivedDisconnect>>,
    discarded: AtomicU64,
}

impl SimulatedDas {
    /// Binds `local` (port 0 for an ephemeral port) and starts answering.
    /// Must be called within a Tokio runtime with I/O enabled.
    pub fn bind(
        local: SocketAddr,
        secret: SharedSecret,
        behaviour: DasBehaviour,
    ) -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let socket = std::net::UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        let local_addr = socket.local_addr()?;
        let state = Arc::new(State {
            socket: UdpSocket::from_std(socket)?,
            secret,
            behaviour: Mutex::new(behaviour),
            received: Mutex::new(Vec::new()),
            discarded: AtomicU64::new(0),
        });
        let task = runtime.spawn(serve(Arc::clone(&state)));
        Ok(Self {
            local_addr,
            state,
            task,
        })
    }

    /// Where Disconnect-Requests go.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Answers requests received from now on this way.
    pub fn set_behaviour(&self, behaviour: DasBehaviour) {
        *lock(&self.state.behaviour) = behaviour;
    }

    /// Every request accepted so far, retransmissions included, in order.
    pub fn received(&self) -> Vec<ReceivedDisconnect> {
        lock(&self.state.received).clone()
    }

    /// Datagrams silently discarded: malformed, not a Disconnect-Request,
    /// or failing an authenticator check.
    pub fn discarded(&self) -> u64 {
        self.state.discarded.load(Ordering::Relaxed)
    }
}

impl Drop for SimulatedDas {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn serve(state: Arc<State>) {
    let mut buffer = vec![0; MAX_PACKET_LEN + 1];
    loop {
        let Ok((length, source)) = state.socket.recv_from(&mut buffer).await else {
            continue;
        };
        let datagram = buffer.get(..length).unwrap_or_default();
        let Some(request) = Packet::parse(datagram)
            .ok()
            .filter(|request| verify(request, &state.secret))
        else {
            state.discarded.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        lock(&state.received).push(ReceivedDisconnect {
            source,
            datagram: datagram.to_vec(),
            identifier: request.identifier(),
            attributes: request
                .attributes()
                .iter()
                .map(|attribute| (attribute.attribute_type, attribute.value.to_vec()))
                .collect(),
        });
        let behaviour = *lock(&state.behaviour);
        if let Some(answer) = answer(&request, &state.secret, behaviour) {
            // A lost answer is what retransmission is for.
            let _ = state.socket.send_to(&answer, source).await;
        }
    }
}

/// What a NAS checks before acting on a request (RFC 5176 §3): the code, the
/// Request Authenticator (§2.3), and a Message-Authenticator if present,
/// computed with a zero Authenticator field (§3.4).
fn verify(request: &Packet<'_>, secret: &SharedSecret) -> bool {
    if request.code() != DISCONNECT_REQUEST || !request_authenticator::verify(secret, request) {
        return false;
    }
    match message_authenticator::find(request) {
        Ok(Some(signature)) => message_authenticator::verify(secret, request, &signature, &[0; 16]),
        Ok(None) => true,
        Err(_) => false,
    }
}

/// The answer `behaviour` calls for, signed for `request`.
pub(crate) fn answer(
    request: &Packet<'_>,
    secret: &SharedSecret,
    behaviour: DasBehaviour,
) -> Option<Vec<u8>> {
    let (code, error_cause, forged) = match behaviour {
        DasBehaviour::Ack => (DISCONNECT_ACK, None, false),
        DasBehaviour::Nak { error_cause } => (DISCONNECT_NAK, error_cause, false),
        DasBehaviour::ForgedAck => (DISCONNECT_ACK, None, true),
        DasBehaviour::Silent => return None,
    };
    let mut writer = PacketWriter::new(code, request.identifier(), request.authenticator());
    let offset = writer
        .push(
            MESSAGE_AUTHENTICATOR,
            &[0; message_authenticator::VALUE_LEN],
        )
        .ok()?;
    if let Some(error_cause) = error_cause {
        writer.push(ERROR_CAUSE, &error_cause.to_be_bytes()).ok()?;
    }
    let mut answer = writer.into_bytes();
    let forger = SharedSecret::new(b"not the shared secret".to_vec());
    let signer = if forged { &forger } else { secret };
    response_authenticator::seal(signer, &mut answer, Some(offset));
    Some(answer)
}
