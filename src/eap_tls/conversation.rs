//! One EAP-TLS conversation as EAP sees it (RFC 3748 §4.1): the server sends a Request with an
//! Identifier, and only a Response with that same Identifier moves the conversation on. A
//! Response bearing the Identifier before it is the NAS retransmitting an Access-Request we
//! already answered (RFC 3579 §2.6.1): it gets the same Request again, and the TLS session
//! does not see it twice. A Nak means the peer will not do EAP-TLS, the only method offered.

use adgate_certs::{EapTlsSession, Established, Step};
use adgate_radius::eap::eap_type;
use adgate_radius::{EapCode, EapPacket};

/// What to answer a peer's Response with.
pub(crate) enum Turn {
    /// The next EAP-Request, in an Access-Challenge.
    Challenge(EapPacket),
    /// The handshake is over: now decide on the certificate.
    Established(Box<Established>),
    /// The conversation failed for this reason code.
    Failed(&'static str),
}

/// The server's side of one conversation.
pub(crate) struct Conversation {
    /// The NAS that started it; no other may continue it.
    client: String,
    /// The EAP-Response/Identity, as sent (RFC 3748 §5.1).
    eap_identity: Vec<u8>,
    session: EapTlsSession,
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
            eap_identity,
            session,
            request: EapPacket::new(EapCode::Request, identifier, eap_type::TLS, start),
            previous_identifier: None,
        }
    }

    /// The Request to send (the last one built).
    pub(crate) fn request(&self) -> &EapPacket {
        &self.request
    }

    pub(crate) fn eap_identity(&self) -> &[u8] {
        &self.eap_identity
    }

    /// Handles a Response from the NAS called `client`.
    pub(crate) fn respond(&mut self, client: &str, response: &EapPacket) -> Turn {
        if client != self.client || response.code != EapCode::Response {
            return Turn::Failed("eap_protocol_error");
        }
        if Some(response.identifier) == self.previous_identifier {
            return Turn::Challenge(self.request.clone());
        }
        if response.identifier != self.request.identifier {
            return Turn::Failed("eap_protocol_error");
        }
        match response.eap_type() {
            Some(eap_type::TLS) => match self.session.advance(response.type_data()) {
                Step::Continue(type_data) => {
                    let identifier = self.request.identifier.wrapping_add(1);
                    self.previous_identifier = Some(self.request.identifier);
                    self.request =
                        EapPacket::new(EapCode::Request, identifier, eap_type::TLS, &type_data);
                    Turn::Challenge(self.request.clone())
                }
                Step::Established(established) => Turn::Established(established),
                Step::Failed(rejection) => Turn::Failed(rejection.as_str()),
            },
            Some(eap_type::NAK) => Turn::Failed("eap_method_refused"),
            _ => Turn::Failed("eap_protocol_error"),
        }
    }
}
