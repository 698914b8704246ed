//! One EAP-TLS conversation as EAP sees it (RFC 3748 §4.1): the server sends a Request with an
//! Identifier, and only a Response with that same Identifier moves the conversation on. A
//! Response bearing the Identifier before it is the NAS retransmitting an Access-Request we
//! already answered (RFC 3579 §2.6.1): it gets the same Request again, and the TLS session
//! does not see it twice. A Nak means the peer will not do EAP-TLS, the only method offered.
//!
//! A conversation the NAS opened with EAP-Start (RFC 3579 §2.1) begins one step earlier, with
//! our EAP-Request/Identity; the peer's Response/Identity then starts the TLS session.

use adgate_certs::{EapTlsSession, Established, Step};
use adgate_radius::eap::eap_type;
use adgate_radius::{EapCode, EapPacket};

use crate::reason::Reason;

/// What to answer a peer's Response with.
pub(crate) enum Turn {
    /// The next EAP-Request, in an Access-Challenge.
    Challenge(EapPacket),
    /// The handshake is over: now decide on the certificate.
    Established(Box<Established>),
    /// The conversation failed for this reason code.
    Failed(Reason),
    /// The handshake failed for this reason code, and this EAP-Request carries the TLS alert
    /// that tells the peer why (RFC 5216 §2.1.3). The refusal is final now, so it is decided
    /// and recorded now: a peer that never acknowledges the alert leaves a record all the same.
    Refusing(EapPacket, Reason),
    /// The peer answered the alert: the conversation ends with EAP-Failure for this reason,
    /// already recorded with the alert.
    Ended(Reason),
}

/// A new TLS session and the Type-Data of its EAP-TLS Start, or the reason code it cannot be had.
pub(crate) type StartedTls = Result<(EapTlsSession, Vec<u8>), Reason>;

/// Where the conversation stands.
enum Phase {
    /// EAP-Request/Identity is out; the peer's identity comes next.
    AwaitingIdentity,
    /// The TLS handshake, for the identity the peer gave. The session is boxed: a conversation
    /// waiting for its identity then takes little room in the table.
    Tls {
        /// The EAP-Response/Identity, as sent (RFC 3748 §5.1).
        eap_identity: Vec<u8>,
        session: Box<EapTlsSession>,
    },
}

/// The server's side of one conversation.
pub(crate) struct Conversation {
    /// The NAS that started it; no other may continue it.
    client: String,
    phase: Phase,
    /// The Request last sent, for retransmissions.
    request: EapPacket,
    /// The Identifier of the Request before it.
    previous_identifier: Option<u8>,
}

impl Conversation {
    /// A conversation that has sent `start` (EAP-TLS Start) with Identifier `identifier`.
    pub(crate) fn new(
        client: &str,
        eap_identity: Vec<u8>,
        session: EapTlsSession,
        start: &[u8],
        identifier: u8,
    ) -> Self {
        Self {
            client: client.to_owned(),
            phase: Phase::Tls {
                eap_identity,
                session: Box::new(session),
            },
            request: EapPacket::new(EapCode::Request, identifier, eap_type::TLS, start),
            previous_identifier: None,
        }
    }

    /// A conversation opened by EAP-Start, which has sent EAP-Request/Identity with
    /// Identifier `identifier`.
    pub(crate) fn awaiting_identity(client: &str, identifier: u8) -> Self {
        Self {
            client: client.to_owned(),
            phase: Phase::AwaitingIdentity,
            request: EapPacket::new(EapCode::Request, identifier, eap_type::IDENTITY, &[]),
            previous_identifier: None,
        }
    }

    /// The Request to send (the last one built).
    pub(crate) fn request(&self) -> &EapPacket {
        &self.request
    }

    /// The peer's EAP identity; empty until it gave one.
    pub(crate) fn eap_identity(&self) -> &[u8] {
        match &self.phase {
            Phase::AwaitingIdentity => &[],
            Phase::Tls { eap_identity, .. } => eap_identity,
        }
    }

    /// Handles a Response from the NAS called `client`; `start_tls` is called when the
    /// Response is the identity an EAP-Start conversation waits for.
    pub(crate) fn respond(
        &mut self,
        client: &str,
        response: &EapPacket,
        start_tls: impl FnOnce() -> StartedTls,
    ) -> Turn {
        if client != self.client || response.code != EapCode::Response {
            return Turn::Failed(Reason::EapProtocolError);
        }
        if Some(response.identifier) == self.previous_identifier {
            return Turn::Challenge(self.request.clone());
        }
        // After our TLS alert, any answer ends the conversation for the alert's reason
        // (RFC 5216 §2.1.3 expects an empty EAP-TLS Response; a Nak must not change the reason).
        if let Phase::Tls { session, .. } = &self.phase {
            if let Some(rejection) = session.refusal() {
                return Turn::Ended(rejection.into());
            }
        }
        if response.identifier != self.request.identifier {
            return Turn::Failed(Reason::EapProtocolError);
        }
        match (&mut self.phase, response.eap_type()) {
            (Phase::AwaitingIdentity, Some(eap_type::IDENTITY)) => match start_tls() {
                Ok((session, start)) => {
                    self.phase = Phase::Tls {
                        eap_identity: response.type_data().to_vec(),
                        session: Box::new(session),
                    };
                    self.send(&start)
                }
                Err(reason) => Turn::Failed(reason),
            },
            (Phase::Tls { session, .. }, Some(eap_type::TLS)) => {
                match session.advance(response.type_data()) {
                    Step::Continue(type_data) => {
                        let refusal = session.refusal();
                        let request = self.next_request(&type_data);
                        match refusal {
                            Some(rejection) => Turn::Refusing(request, rejection.into()),
                            None => Turn::Challenge(request),
                        }
                    }
                    Step::Established(established) => Turn::Established(established),
                    Step::Failed(rejection) => Turn::Failed(rejection.into()),
                }
            }
            (Phase::Tls { .. }, Some(eap_type::NAK)) => Turn::Failed(Reason::EapMethodRefused),
            _ => Turn::Failed(Reason::EapProtocolError),
        }
    }

    /// Sends the next EAP-TLS Request, carrying `type_data`.
    fn send(&mut self, type_data: &[u8]) -> Turn {
        Turn::Challenge(self.next_request(type_data))
    }

    /// The next EAP-TLS Request, carrying `type_data`, which becomes the one out.
    fn next_request(&mut self, type_data: &[u8]) -> EapPacket {
        let identifier = self.request.identifier.wrapping_add(1);
        self.previous_identifier = Some(self.request.identifier);
        self.request = EapPacket::new(EapCode::Request, identifier, eap_type::TLS, type_data);
        self.request.clone()
    }
}

#[cfg(test)]
mod tests {
    use adgate_certs::IdentityPolicy;

    use super::*;
    use crate::eap_tls::conversations::tests::server;

    fn identity(identifier: u8) -> EapPacket {
        EapPacket::new(
            EapCode::Response,
            identifier,
            eap_type::IDENTITY,
            b"alice@corp.example.test",
        )
    }

    #[test]
    fn an_eap_start_conversation_starts_tls_once_on_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path());
        let mut conversation = Conversation::awaiting_identity("vpn1", 7);
        assert_eq!(conversation.request().eap_type(), Some(eap_type::IDENTITY));
        let start_tls = || {
            EapTlsSession::start(server.config().unwrap(), 1000, IdentityPolicy::default())
                .map_err(Reason::from)
        };
        let Turn::Challenge(start) = conversation.respond("vpn1", &identity(7), start_tls) else {
            panic!("no EAP-TLS Start");
        };
        assert_eq!(
            (start.identifier, start.eap_type()),
            (8, Some(eap_type::TLS))
        );
        assert_eq!(conversation.eap_identity(), b"alice@corp.example.test");
        // The NAS retransmits the identity: the same Start, and no second TLS session.
        let Turn::Challenge(again) =
            conversation.respond("vpn1", &identity(7), || unreachable!("TLS started twice"))
        else {
            panic!("no EAP-TLS Start again");
        };
        assert_eq!(again, start);
    }

    #[test]
    fn after_the_tls_alert_any_answer_fails_for_the_alerts_reason() {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path());
        let (session, start) =
            EapTlsSession::start(server.config().unwrap(), 1000, IdentityPolicy::default())
                .unwrap();
        let mut conversation = Conversation::new("vpn1", b"alice".to_vec(), session, &start, 1);
        // A TLS record of content type 0: rustls refuses it with a decode_error alert.
        let garbage = EapPacket::new(EapCode::Response, 1, eap_type::TLS, &[0, 0, 0]);
        let never = || -> StartedTls { unreachable!("TLS started") };
        let Turn::Refusing(alert, Reason::TlsHandshakeFailed) =
            conversation.respond("vpn1", &garbage, never)
        else {
            panic!("no alert");
        };
        assert_eq!(alert.eap_type(), Some(eap_type::TLS));
        // The peer answers the alert with a Nak instead of an acknowledgement.
        let nak = EapPacket::new(EapCode::Response, alert.identifier, eap_type::NAK, &[26]);
        assert!(matches!(
            conversation.respond("vpn1", &nak, never),
            Turn::Ended(Reason::TlsHandshakeFailed)
        ));
    }

    #[test]
    fn an_eap_start_conversation_refuses_anything_but_its_identity() {
        let never = || -> StartedTls { unreachable!("TLS started") };
        let tls = EapPacket::new(EapCode::Response, 7, eap_type::TLS, &[0]);
        let nak = EapPacket::new(EapCode::Response, 7, eap_type::NAK, &[13]);
        for (client, response) in [
            ("vpn2", identity(7)),
            ("vpn1", identity(8)),
            ("vpn1", tls),
            ("vpn1", nak),
        ] {
            let mut conversation = Conversation::awaiting_identity("vpn1", 7);
            assert!(
                matches!(
                    conversation.respond(client, &response, never),
                    Turn::Failed(Reason::EapProtocolError)
                ),
                "{client} {response:?}"
            );
        }
    }
}
