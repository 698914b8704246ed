//! Entry points for the fuzz targets in `fuzz/` and for the replay of their corpus in
//! `tests/fuzz_corpus.rs`. Compiled only with the `fuzzing` feature, so none of this is part of
//! the API adgate uses. Whatever bytes come in, nothing here may panic, hang, or keep memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::accounting::AccountingRequest;
use crate::clients::{ClientState, NasClient};
use crate::counters::Counters;
use crate::dictionary::ACCOUNTING_REQUEST;
use crate::handler::{AccountingReply, Discard, Reply, RequestHandler};
use crate::message_authenticator;
use crate::packet::{overwrite, Packet, AUTHENTICATOR_OFFSET};
use crate::reject_delay::{Outgoing, RejectDelay};
use crate::request::{AccessRequest, Credential};
use crate::request_authenticator;
use crate::response_cache::ResponseCache;
use crate::server::{respond, Requests, Service};

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
        sign(&mut datagram);
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
fn sign(datagram: &mut [u8]) {
    let Ok(packet) = Packet::parse(datagram) else {
        return;
    };
    let accounting = packet.code() == ACCOUNTING_REQUEST;
    let signature_offset = message_authenticator::find(&packet)
        .ok()
        .flatten()
        .map(|attribute| attribute.value_offset);
    let secret = client();
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
        let signature = message_authenticator::sign(&secret.secret, &prepared);
        overwrite(datagram, offset, &signature);
    }
    if accounting {
        let Ok(packet) = Packet::parse(datagram) else {
            return;
        };
        let authenticator = request_authenticator::compute(&secret.secret, &packet);
        overwrite(datagram, AUTHENTICATOR_OFFSET, &authenticator);
    }
}
