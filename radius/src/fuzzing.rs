//! Entry points for the fuzz targets in `fuzz/` and for the replay of their corpus in
//! `tests/fuzz_corpus.rs`, and the pieces adgate's own fuzz target drives its gatekeeper with
//! ([`Exchange`], [`as_nas_would_send`], [`continuation`]). Compiled only with the `fuzzing`
//! feature, so none of this is part of the API adgate uses. Whatever bytes come in, nothing
//! here may panic, hang, or keep memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::accounting::AccountingRequest;
use crate::clients::{ClientState, NasClient};
use crate::counters::Counters;
use crate::dictionary::{ACCESS_CHALLENGE, ACCOUNTING_REQUEST, EAP_MESSAGE, STATE, USER_PASSWORD};
use crate::handler::{AccountingReply, Discard, Reply, RequestHandler};
use crate::message_authenticator;
use crate::packet::{
    overwrite, Packet, PacketWriter, AUTHENTICATOR_OFFSET, HEADER_LEN, LENGTH_OFFSET,
    MAX_PACKET_LEN,
};
use crate::reject_delay::{Outgoing, RejectDelay};
use crate::request::{AccessRequest, Credential};
use crate::request_authenticator;
use crate::response_cache::ResponseCache;
use crate::secret::SharedSecret;
use crate::server::{respond, Requests, Service};
use crate::user_password;

const SECRET: &[u8] = b"fuzzing-shared-secret";

fn client() -> Arc<NasClient> {
    Arc::new(NasClient {
        name: "fuzz".to_owned(),
        secret: crate::secret::SharedSecret::new(SECRET.to_vec()),
        require_message_authenticator: crate::clients::MessageAuthenticatorRule::Auto,
        limit_proxy_state: false,
        max_in_flight: 1,
        state: ClientState::default(),
    })
}

fn source() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 1645))
}

/// Every decoder and authenticator check, on one datagram.
pub fn decode(datagram: &[u8]) {
    let Ok(packet) = Packet::parse(datagram) else {
        return;
    };
    let client = client();
    if let Ok(Some(signature)) = message_authenticator::find(&packet) {
        message_authenticator::verify(&client.secret, &packet, &signature, packet.authenticator());
    }
    request_authenticator::verify(&client.secret, &packet);
    let _ = AccessRequest::decode(&packet, Arc::clone(&client), source(), false);
    let _ = AccountingRequest::decode(&packet, client, source());
}

/// An in-memory directory: `alice` with password `right`. Accounting is recorded unless the
/// user is `unrecordable`.
struct FakeDirectory {
    passwords: HashMap<&'static [u8], &'static [u8]>,
}

impl RequestHandler for FakeDirectory {
    async fn access_request(&self, request: AccessRequest) -> Reply {
        let known = request
            .user_name
            .as_deref()
            .and_then(|user| self.passwords.get(user));
        match (&request.credential, known) {
            (Credential::Pap(password), Some(expected)) if password.expose() == *expected => {
                Reply::Accept {
                    attributes: Vec::new(),
                }
            }
            _ => Reply::Reject,
        }
    }

    async fn accounting_request(&self, request: AccountingRequest) -> AccountingReply {
        if request.user_name.as_deref() == Some(b"unrecordable") {
            AccountingReply::NotRecorded
        } else {
            AccountingReply::Recorded
        }
    }

    async fn discarded(&self, _discard: Discard) {}
}

/// The server's whole path for one datagram, twice (the second time as a retransmission),
/// behind a handler with an in-memory directory. The first octet chooses the port (bit 0:
/// accounting) and whether to sign the rest (bit 1) the way a NAS knowing the secret would, so
/// the fuzzer gets past the authenticators into the decoders and the handler.
pub fn request_path(input: &[u8]) {
    let Some((&control, datagram)) = input.split_first() else {
        return;
    };
    let service = if control & 1 == 0 {
        Service::Authentication
    } else {
        Service::Accounting
    };
    let mut datagram = datagram.to_vec();
    if control & 2 != 0 {
        sign(&client().secret, &mut datagram);
    }
    let requests = Requests {
        handler: Arc::new(FakeDirectory {
            passwords: HashMap::from([(&b"alice"[..], &b"right"[..])]),
        }),
        service,
        cache: ResponseCache::new(),
        counters: Arc::new(Counters::default()),
        reject_delay: RejectDelay::new(Duration::ZERO),
    };
    // Cannot fail: a current-thread runtime without the I/O and time drivers opens nothing
    // (and a harness that cannot run must crash loudly, not pass).
    #[allow(clippy::expect_used)]
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime needs no resources that can be missing");
    runtime.block_on(async {
        let arrived = tokio::time::Instant::now();
        let first = respond(&requests, &datagram, source(), Some(client()), arrived).await;
        let again = respond(&requests, &datagram, source(), Some(client()), arrived).await;
        // RFC 5080 §2.2.2: a retransmission gets the identical answer (or, like the first,
        // none, when the first got none). Without a reject delay every answer leaves at once.
        if let (Some(Ok(Outgoing::Now(first))), Some(Ok(Outgoing::Now(again)))) = (&first, &again) {
            assert_eq!(first, again, "a retransmission got a different answer");
        }
    });
}

/// Signs a well-formed datagram as a NAS with the secret would: its Message-Authenticator,
/// if it has one, and an Accounting-Request's Request Authenticator.
fn sign(secret: &SharedSecret, datagram: &mut [u8]) {
    let Ok(packet) = Packet::parse(datagram) else {
        return;
    };
    let accounting = packet.code() == ACCOUNTING_REQUEST;
    let signature_offset = message_authenticator::find(&packet)
        .ok()
        .flatten()
        .map(|attribute| attribute.value_offset);
    if let Some(offset) = signature_offset {
        let mut prepared = if accounting {
            packet.with_authenticator(&[0; 16])
        } else {
            packet.with_authenticator(packet.authenticator())
        };
        overwrite(
            &mut prepared,
            offset,
            &[0; message_authenticator::VALUE_LEN],
        );
        let signature = message_authenticator::sign(secret, &prepared);
        overwrite(datagram, offset, &signature);
    }
    if accounting {
        let Ok(packet) = Packet::parse(datagram) else {
            return;
        };
        let authenticator = request_authenticator::compute(secret, &packet);
        overwrite(datagram, AUTHENTICATOR_OFFSET, &authenticator);
    }
}

/// The server's per-datagram path over any handler, as [`crate::UdpServer`] runs it without
/// its socket: admission and authenticator checks, Status-Server, the response cache (so a
/// retransmission is answered from it), the handler, the encoding of the answer. Refusals are
/// answered at once (no reject delay).
pub struct Exchange<H> {
    requests: Requests<H>,
}

impl<H: RequestHandler> Exchange<H> {
    /// A fresh server for `service` (an empty response cache) in front of `handler`.
    pub fn new(handler: Arc<H>, service: Service) -> Exchange<H> {
        Exchange {
            requests: Requests {
                handler,
                service,
                cache: ResponseCache::new(),
                counters: Arc::new(Counters::default()),
                reject_delay: RejectDelay::new(Duration::ZERO),
            },
        }
    }

    /// The answer the server sends to `datagram` from `client` at `source`; `None` when it
    /// sends none (a discard, or an answer that could not be encoded).
    pub async fn answer(
        &self,
        datagram: &[u8],
        source: SocketAddr,
        client: Arc<NasClient>,
    ) -> Option<Vec<u8>> {
        let arrived = tokio::time::Instant::now();
        match respond(&self.requests, datagram, source, Some(client), arrived).await {
            Some(Ok(Outgoing::Now(octets))) => Some(octets),
            // Without a reject delay every answer leaves at once; an encoding error sends none.
            Some(Ok(Outgoing::Delayed(_)) | Err(_)) | None => None,
        }
    }
}

/// What a NAS that knows the secret does to a request before sending it, beyond what the
/// fuzzer chose: see [`as_nas_would_send`].
pub struct AsNas<'a> {
    pub secret: &'a SharedSecret,
    /// The User-Password in the datagram is in clear: hide it (RFC 2865 §5.2).
    pub hide_password: bool,
    /// The State of the Access-Challenge this request answers: it replaces the request's own
    /// State attribute, if it has one (RFC 2865 §5.24).
    pub state: Option<&'a [u8]>,
    /// The Identifier of the EAP-Request this request answers: it replaces the Identifier of the
    /// request's EAP packet (RFC 3748 §4.1).
    pub eap_identifier: Option<u8>,
}

/// `datagram` as a NAS with `nas.secret` would send it: the Length field made true (the
/// datagram cut at 4096 octets), a clear User-Password hidden, the State and EAP Identifier of
/// the conversation put in, then the Message-Authenticator, if present, and an
/// Accounting-Request's Request Authenticator computed (RFC 3579 §3.2, RFC 2866 §3). What does
/// not parse as a packet even then is returned unchanged but for the Length.
pub fn as_nas_would_send(datagram: &[u8], nas: &AsNas<'_>) -> Vec<u8> {
    let mut octets: Vec<u8> = datagram.iter().copied().take(MAX_PACKET_LEN).collect();
    if octets.len() < HEADER_LEN {
        return octets;
    }
    let length = u16::try_from(octets.len()).unwrap_or(u16::MAX);
    overwrite(&mut octets, LENGTH_OFFSET, &length.to_be_bytes());
    let mut rewritten = rewrite(&octets, nas).unwrap_or(octets);
    sign(nas.secret, &mut rewritten);
    rewritten
}

/// The packet in `octets` with the conversation's State and EAP Identifier and the password
/// hidden; `None` if it does not parse or no longer fits.
fn rewrite(octets: &[u8], nas: &AsNas<'_>) -> Option<Vec<u8>> {
    let packet = Packet::parse(octets).ok()?;
    let mut writer = PacketWriter::new(packet.code(), packet.identifier(), packet.authenticator());
    let mut eap_identifier = nas.eap_identifier;
    for attribute in packet.attributes() {
        let value = match attribute.attribute_type {
            USER_PASSWORD if nas.hide_password => {
                user_password::hide(nas.secret, packet.authenticator(), attribute.value).ok()?
            }
            STATE => nas.state.unwrap_or(attribute.value).to_vec(),
            EAP_MESSAGE => {
                let mut value = attribute.value.to_vec();
                // Only the first EAP-Message holds the EAP header (RFC 3579 §3.1).
                if let (Some(identifier), Some(octet)) = (eap_identifier.take(), value.get_mut(1)) {
                    *octet = identifier;
                }
                value
            }
            _ => attribute.value.to_vec(),
        };
        writer.push(attribute.attribute_type, &value).ok()?;
    }
    Some(writer.into_bytes())
}

/// What a NAS continuing a conversation takes from an Access-Challenge.
pub struct Continuation {
    /// Its State (RFC 2865 §5.24).
    pub state: Vec<u8>,
    /// Its EAP-Request, the EAP-Message attributes joined (RFC 3579 §3.1); empty without one.
    pub eap: Vec<u8>,
}

/// What a NAS continuing a conversation takes from `answer`, when it is an Access-Challenge
/// with a State.
pub fn continuation(answer: &[u8]) -> Option<Continuation> {
    let packet = Packet::parse(answer).ok()?;
    if packet.code() != ACCESS_CHALLENGE {
        return None;
    }
    let state = packet.values(STATE).next()?.to_vec();
    let eap = packet.values(EAP_MESSAGE).flatten().copied().collect();
    Some(Continuation { state, eap })
}
