//! One EAP conversation as EAP sees it (RFC 3748 §4.1): the server sends a Request with an
//! Identifier, and only a Response with that same Identifier moves the conversation on. A
//! Response bearing the Identifier before it is the NAS retransmitting an Access-Request we
//! already answered (RFC 3579 §2.6.1): it gets the same Request again, and the method does not
//! see it twice.
//!
//! The peer's Response/Identity gets the first allowed method; a Nak answering that method's
//! first Request gets the method it names, if allowed (`methods.rs`). Then the method runs:
//! EAP-TLS (`adgate_certs`), EAP-MSCHAPv2 (`adgate_radius::eap_mschapv2`), or PEAP
//! (`peap.rs`). A password method's check is asked of the caller ([`Turn::Verify`]), which
//! answers with [`Conversation::verified`].
//!
//! A conversation the NAS opened with EAP-Start (RFC 3579 §2.1) begins one step earlier, with
//! our EAP-Request/Identity.

use adgate_certs::{EapTlsSession, Established, Step};
use adgate_radius::eap::eap_type;
use adgate_radius::eap_mschapv2::{self, Attempt, EapMsChapV2, Failure, Verified};
use adgate_radius::ms_chap::MsChapErrorCode;
use adgate_radius::mschapv2::name_without_domain;
use adgate_radius::{EapCode, EapPacket};
use zeroize::Zeroizing;

use super::methods::{AllowedMethods, EapMethod};
use super::peap::{Peap, PeapTurn};
use super::HeldAccept;
use crate::reason::Reason;

/// The Name in adgate's MS-CHAPv2 Challenges.
pub(crate) const SERVER_NAME: &[u8] = b"adgate";

/// What to answer a peer's Response with.
pub(crate) enum Turn {
    /// The next EAP-Request, in an Access-Challenge.
    Challenge(EapPacket),
    /// The handshake is over: now decide on the certificate.
    Established(Box<Established>),
    /// Have this MS-CHAPv2 attempt checked, then answer with [`Conversation::verified`].
    Verify(Attempt),
    /// A password method ended in success, the peer having confirmed it: EAP-Success, these
    /// keys, and the login [`Conversation::verified`] was told of.
    Succeeded(SessionKeys),
    /// The conversation failed for this reason code.
    Failed(Reason),
    /// The login is refused for this reason code, and this EAP-Request tells the peer (a TLS
    /// alert, RFC 5216 §2.1.3, or an MS-CHAPv2 Failure-Request). The refusal is final now, so
    /// it is decided and recorded now: a peer that never answers leaves a record all the same.
    Refusing(EapPacket, Reason),
    /// The peer answered the refusal: the conversation ends with EAP-Failure for this reason,
    /// already recorded with the refusal.
    Ended(Reason),
}

/// MS-MPPE-Recv-Key and MS-MPPE-Send-Key of a password method, wiped on drop.
pub(crate) struct SessionKeys {
    pub(crate) recv: Zeroizing<Vec<u8>>,
    pub(crate) send: Zeroizing<Vec<u8>>,
}

impl SessionKeys {
    pub(crate) fn new(recv: &[u8], send: &[u8]) -> SessionKeys {
        SessionKeys {
            recv: Zeroizing::new(recv.to_vec()),
            send: Zeroizing::new(send.to_vec()),
        }
    }
}

/// A new TLS session (EAP-TLS, or PEAP's tunnel) and the Type-Data of its Start, or the reason
/// code it cannot be had.
pub(crate) type StartedTls = Result<(EapTlsSession, Vec<u8>), Reason>;

/// A method in progress.
enum Session {
    /// The session is boxed: a conversation waiting for its identity then takes little room in
    /// the table.
    Tls(Box<EapTlsSession>),
    MsChapV2(Box<EapMsChapV2>),
    Peap(Box<Peap>),
}

/// Where the conversation stands.
enum Phase {
    /// EAP-Request/Identity is out; the peer's identity comes next.
    AwaitingIdentity,
    /// A method, for the identity the peer gave.
    Method {
        /// The EAP-Response/Identity, as sent (RFC 3748 §5.1).
        eap_identity: Vec<u8>,
        method: EapMethod,
        session: Session,
        /// Whether the peer has answered only the method's first Request so far: the one a
        /// Nak may answer (RFC 3748 §5.3.1).
        at_first_request: bool,
    },
}

/// The server's side of one conversation.
pub(crate) struct Conversation {
    /// The NAS that started it; no other may continue it.
    client: String,
    allowed: AllowedMethods,
    phase: Phase,
    /// The Request last sent, for retransmissions.
    request: EapPacket,
    /// The Identifier of the Request before it.
    previous_identifier: Option<u8>,
    /// The reason of a password login refused and recorded, whose method is winding down.
    refused: Option<Reason>,
    /// A password login accepted, waiting for the peer to confirm the success.
    held: Option<HeldAccept>,
    /// Whether the peer has Nak'ed a method already.
    naked: bool,
}

impl Conversation {
    /// A conversation in `phase` that has sent `request`.
    fn with(client: &str, allowed: AllowedMethods, phase: Phase, request: EapPacket) -> Self {
        Self {
            client: client.to_owned(),
            allowed,
            phase,
            request,
            previous_identifier: None,
            refused: None,
            held: None,
            naked: false,
        }
    }

    /// A conversation opened by EAP-Start, which has sent EAP-Request/Identity with
    /// Identifier `identifier`.
    pub(crate) fn awaiting_identity(client: &str, allowed: AllowedMethods, identifier: u8) -> Self {
        let request = EapPacket::new(EapCode::Request, identifier, eap_type::IDENTITY, &[]);
        Self::with(client, allowed, Phase::AwaitingIdentity, request)
    }

    /// A conversation whose peer opened it with `identity` (a Response/Identity): the first
    /// allowed method starts. `start_tls` is called if that method runs over TLS.
    pub(crate) fn begin(
        client: &str,
        allowed: AllowedMethods,
        identity: &EapPacket,
        start_tls: impl FnOnce(EapMethod) -> StartedTls,
    ) -> Result<(Self, EapPacket), Reason> {
        let mut conversation = Self::awaiting_identity(client, allowed, identity.identifier);
        match conversation.respond(client, identity, start_tls) {
            Turn::Challenge(request) => Ok((conversation, request)),
            Turn::Failed(reason) => Err(reason),
            _ => Err(Reason::EapProtocolError),
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
            Phase::Method { eap_identity, .. } => eap_identity,
        }
    }

    /// PEAP's inner identity, once the peer gave it: the identity checked.
    pub(crate) fn inner_identity(&self) -> Option<String> {
        match &self.phase {
            Phase::Method {
                session: Session::Peap(peap),
                ..
            } => peap
                .inner_identity()
                .map(|identity| String::from_utf8_lossy(identity).into_owned()),
            _ => None,
        }
    }

    /// The method running (the first allowed one before the identity came).
    pub(crate) fn method(&self) -> EapMethod {
        match &self.phase {
            Phase::AwaitingIdentity => self.allowed.first(),
            Phase::Method { method, .. } => *method,
        }
    }

    /// Handles a Response from the NAS called `client`; `start_tls` is called when the
    /// Response starts a method that runs over TLS.
    pub(crate) fn respond(
        &mut self,
        client: &str,
        response: &EapPacket,
        start_tls: impl FnOnce(EapMethod) -> StartedTls,
    ) -> Turn {
        if client != self.client || response.code != EapCode::Response {
            return Turn::Failed(Reason::EapProtocolError);
        }
        if Some(response.identifier) == self.previous_identifier {
            return Turn::Challenge(self.request.clone());
        }
        // After our refusal (a TLS alert, an MS-CHAPv2 Failure-Request), any answer ends the
        // conversation for the refusal's reason (RFC 5216 §2.1.3 expects an empty EAP-TLS
        // Response, the draft a Failure-Response; a Nak must not change the reason). PEAP's
        // inner refusal still has its Result TLV to exchange.
        if let Some(reason) = self.refusal() {
            return Turn::Ended(reason);
        }
        if response.identifier != self.request.identifier {
            return Turn::Failed(Reason::EapProtocolError);
        }
        let response_type = response.eap_type();
        let switch = match &mut self.phase {
            Phase::AwaitingIdentity if response_type == Some(eap_type::IDENTITY) => {
                let first = self.allowed.first();
                return self.start(response.type_data().to_vec(), first, start_tls);
            }
            Phase::Method {
                eap_identity,
                method,
                at_first_request: true,
                ..
            } if response_type == Some(eap_type::NAK) => {
                // One Nak: a peer refusing the method it asked for gets no third.
                let desired = match self.naked {
                    false => self.allowed.after_nak(response.type_data(), *method),
                    true => None,
                };
                self.naked = true;
                match desired {
                    Some(desired) => {
                        tracing::debug!(
                            refused = method.as_str(),
                            desired = desired.as_str(),
                            "EAP Nak: the peer asks for another method"
                        );
                        (std::mem::take(eap_identity), desired)
                    }
                    None => return Turn::Failed(Reason::EapMethodRefused),
                }
            }
            Phase::Method {
                method,
                at_first_request,
                ..
            } if response_type == Some(method.eap_type()) => {
                *at_first_request = false;
                return self.advance(response.type_data());
            }
            _ => return Turn::Failed(Reason::EapProtocolError),
        };
        // The Nak named an allowed method: it starts, for the identity already given.
        let (eap_identity, method) = switch;
        self.start(eap_identity, method, start_tls)
    }

    /// The refusal an earlier turn decided, if the method's next answer ends the conversation.
    fn refusal(&self) -> Option<Reason> {
        match &self.phase {
            Phase::Method {
                session: Session::Tls(session),
                ..
            } => session.refusal().map(Reason::from),
            Phase::Method {
                session: Session::Peap(peap),
                ..
            } => peap.tunnel().refusal().map(Reason::from),
            Phase::Method {
                session: Session::MsChapV2(_),
                ..
            } => self.refused,
            Phase::AwaitingIdentity => None,
        }
    }

    /// Starts `method` for `eap_identity`: its first Request.
    fn start(
        &mut self,
        eap_identity: Vec<u8>,
        method: EapMethod,
        start_tls: impl FnOnce(EapMethod) -> StartedTls,
    ) -> Turn {
        let identifier = self.request.identifier.wrapping_add(1);
        let started = match method {
            EapMethod::Tls => {
                start_tls(method).map(|(session, start)| (Session::Tls(Box::new(session)), start))
            }
            EapMethod::Peap => start_tls(method)
                .map(|(tunnel, start)| (Session::Peap(Box::new(Peap::new(tunnel))), start)),
            EapMethod::MsChapV2 => EapMsChapV2::start(identifier, SERVER_NAME)
                .map(|(machine, challenge)| (Session::MsChapV2(Box::new(machine)), challenge))
                .map_err(|_| Reason::EapProtocolError),
        };
        match started {
            Ok((session, type_data)) => {
                self.phase = Phase::Method {
                    eap_identity,
                    method,
                    session,
                    at_first_request: true,
                };
                self.send(&type_data)
            }
            Err(reason) => Turn::Failed(reason),
        }
    }

    /// The running method's answer to the Type-Data of the peer's Response.
    fn advance(&mut self, type_data: &[u8]) -> Turn {
        let Phase::Method {
            eap_identity,
            session,
            ..
        } = &mut self.phase
        else {
            return Turn::Failed(Reason::EapProtocolError);
        };
        match session {
            Session::Tls(session) => match session.advance(type_data) {
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
                Step::TunnelOpen | Step::Inner(_) => Turn::Failed(Reason::EapProtocolError),
            },
            Session::MsChapV2(machine) => match machine.respond(type_data) {
                eap_mschapv2::Step::Send(type_data) => self.send(&type_data),
                eap_mschapv2::Step::Verify(attempt) => {
                    if names_agree(eap_identity, &attempt.user_name) {
                        Turn::Verify(attempt)
                    } else {
                        self.verified(
                            Verified::Refused(MsChapErrorCode::AuthenticationFailure),
                            Some(Reason::IdentityMismatch),
                        )
                    }
                }
                eap_mschapv2::Step::Succeeded(keys) => {
                    Turn::Succeeded(SessionKeys::new(keys.mppe_recv_key(), keys.mppe_send_key()))
                }
                eap_mschapv2::Step::Failed(Failure::Refused) => {
                    Turn::Ended(self.refused.unwrap_or(Reason::EapProtocolError))
                }
                eap_mschapv2::Step::Failed(Failure::Protocol) => {
                    Turn::Failed(Reason::EapProtocolError)
                }
            },
            Session::Peap(peap) => {
                let turn = peap.advance(type_data);
                let refusal = peap.tunnel().refusal();
                self.peap_turn(turn, refusal.map(Reason::from))
            }
        }
    }

    /// Keeps what the MS-CHAPv2 login step accepted until [`Turn::Succeeded`].
    pub(crate) fn hold(&mut self, held: HeldAccept) {
        self.held = Some(held);
    }

    /// What [`hold`](Self::hold) kept.
    pub(crate) fn take_held(&mut self) -> Option<HeldAccept> {
        self.held.take()
    }

    /// The check's answer to [`Turn::Verify`]: `Accepted`, or `Refused` with `refusal`, the
    /// reason recorded.
    pub(crate) fn verified(&mut self, verified: Verified, refusal: Option<Reason>) -> Turn {
        let Phase::Method { session, .. } = &mut self.phase else {
            return Turn::Failed(Reason::EapProtocolError);
        };
        self.refused = refusal;
        match session {
            Session::MsChapV2(machine) => match machine.verified(verified) {
                Some(type_data) => {
                    let request = self.next_request(&type_data);
                    match refusal {
                        Some(reason) => Turn::Refusing(request, reason),
                        None => Turn::Challenge(request),
                    }
                }
                None => Turn::Failed(Reason::EapProtocolError),
            },
            Session::Peap(peap) => {
                let turn = peap.verified(verified);
                self.peap_turn(turn, refusal)
            }
            Session::Tls(_) => Turn::Failed(Reason::EapProtocolError),
        }
    }

    /// A PEAP turn as the conversation's; `refusal` is a refusal the turn carries to the peer.
    fn peap_turn(&mut self, turn: PeapTurn, refusal: Option<Reason>) -> Turn {
        match turn {
            PeapTurn::Send(type_data) => {
                let request = self.next_request(&type_data);
                match refusal {
                    Some(reason) => Turn::Refusing(request, reason),
                    None => Turn::Challenge(request),
                }
            }
            PeapTurn::Mismatch(type_data) => {
                self.refused = Some(Reason::IdentityMismatch);
                Turn::Refusing(self.next_request(&type_data), Reason::IdentityMismatch)
            }
            PeapTurn::Verify(attempt) => Turn::Verify(attempt),
            PeapTurn::Succeeded(keys) => Turn::Succeeded(keys),
            PeapTurn::Ended => Turn::Ended(self.refused.unwrap_or(Reason::EapProtocolError)),
            PeapTurn::Failed(reason) => Turn::Failed(reason),
        }
    }

    /// Sends the next Request of the running method, carrying `type_data`.
    fn send(&mut self, type_data: &[u8]) -> Turn {
        Turn::Challenge(self.next_request(type_data))
    }

    /// The next Request of the running method, carrying `type_data`, which becomes the one out.
    fn next_request(&mut self, type_data: &[u8]) -> EapPacket {
        let identifier = self.request.identifier.wrapping_add(1);
        self.previous_identifier = Some(self.request.identifier);
        self.request = EapPacket::new(
            EapCode::Request,
            identifier,
            self.method().eap_type(),
            type_data,
        );
        self.request.clone()
    }
}

/// Whether the MS-CHAPv2 Name is the EAP identity, `DOMAIN\` prefixes aside and ASCII case
/// ignored (AD names are case-insensitive), as hostapd's EAP-MSCHAPv2 server checks it.
pub(crate) fn names_agree(eap_identity: &[u8], name: &[u8]) -> bool {
    name_without_domain(eap_identity).eq_ignore_ascii_case(name_without_domain(name))
}

#[cfg(test)]
mod tests {
    use adgate_certs::IdentityPolicy;
    use adgate_radius::mschapv2::{
        authenticator_response, mppe_keys, nt_response, password_hash, password_hash_hash,
        Challenge16,
    };

    use super::*;
    use crate::eap_tls::conversations::tests::server;

    const PASSWORD: &str = "Corp-Passw0rd!";
    const PEER_CHALLENGE: Challenge16 = [0x21; 16];

    fn identity(identifier: u8) -> EapPacket {
        identity_named(identifier, b"alice@corp.example.test")
    }

    fn identity_named(identifier: u8, name: &[u8]) -> EapPacket {
        EapPacket::new(EapCode::Response, identifier, eap_type::IDENTITY, name)
    }

    fn never() -> impl FnOnce(EapMethod) -> StartedTls {
        |_| unreachable!("TLS started")
    }

    fn allowed(methods: &[EapMethod]) -> AllowedMethods {
        AllowedMethods::new(methods.to_vec()).unwrap()
    }

    /// The peer's EAP-MSCHAPv2 Response to the Challenge `request` carries, for `name`.
    fn mschapv2_response(request: &EapPacket, name: &[u8], password: &str) -> EapPacket {
        let challenge = request.type_data();
        let authenticator: Challenge16 = challenge[5..21].try_into().unwrap();
        let nt = nt_response(
            &authenticator,
            &PEER_CHALLENGE,
            name_without_domain(name),
            password,
        );
        let mut data = vec![49];
        data.extend_from_slice(&PEER_CHALLENGE);
        data.extend_from_slice(&[0; 8]);
        data.extend_from_slice(&nt);
        data.push(0);
        data.extend_from_slice(name);
        let mut type_data = vec![2, challenge[1]];
        type_data.extend_from_slice(&u16::try_from(4 + data.len()).unwrap().to_be_bytes());
        type_data.extend_from_slice(&data);
        EapPacket::new(
            EapCode::Response,
            request.identifier,
            eap_type::MSCHAPV2,
            &type_data,
        )
    }

    /// What the login step answers for `attempt` made with the right password.
    fn accepted(attempt: &Attempt) -> Verified {
        let hash_hash = password_hash_hash(&password_hash(PASSWORD));
        Verified::Accepted {
            authenticator_response: authenticator_response(
                &hash_hash,
                &attempt.nt_response,
                &attempt.peer_challenge,
                &attempt.authenticator_challenge,
                name_without_domain(&attempt.user_name),
            ),
            keys: mppe_keys(&hash_hash, &attempt.nt_response),
        }
    }

    #[test]
    fn an_eap_start_conversation_starts_tls_once_on_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path());
        let mut conversation =
            Conversation::awaiting_identity("vpn1", AllowedMethods::default(), 7);
        assert_eq!(conversation.request().eap_type(), Some(eap_type::IDENTITY));
        let start_tls = |method| {
            assert_eq!(method, EapMethod::Tls);
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
        let Turn::Challenge(again) = conversation.respond("vpn1", &identity(7), never()) else {
            panic!("no EAP-TLS Start again");
        };
        assert_eq!(again, start);
    }

    #[test]
    fn after_the_tls_alert_any_answer_fails_for_the_alerts_reason() {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path());
        let (mut conversation, start) =
            Conversation::begin("vpn1", AllowedMethods::default(), &identity(0), |_| {
                EapTlsSession::start(server.config().unwrap(), 1000, IdentityPolicy::default())
                    .map_err(Reason::from)
            })
            .unwrap();
        assert_eq!(start.identifier, 1);
        // A TLS record of content type 0: rustls refuses it with a decode_error alert.
        let garbage = EapPacket::new(EapCode::Response, 1, eap_type::TLS, &[0, 0, 0]);
        let Turn::Refusing(alert, Reason::TlsHandshakeFailed) =
            conversation.respond("vpn1", &garbage, never())
        else {
            panic!("no alert");
        };
        assert_eq!(alert.eap_type(), Some(eap_type::TLS));
        // The peer answers the alert with a Nak instead of an acknowledgement.
        let nak = EapPacket::new(EapCode::Response, alert.identifier, eap_type::NAK, &[26]);
        assert!(matches!(
            conversation.respond("vpn1", &nak, never()),
            Turn::Ended(Reason::TlsHandshakeFailed)
        ));
    }

    #[test]
    fn an_eap_start_conversation_refuses_anything_but_its_identity() {
        let tls = EapPacket::new(EapCode::Response, 7, eap_type::TLS, &[0]);
        let nak = EapPacket::new(EapCode::Response, 7, eap_type::NAK, &[13]);
        for (client, response) in [
            ("vpn2", identity(7)),
            ("vpn1", identity(8)),
            ("vpn1", tls),
            ("vpn1", nak),
        ] {
            let mut conversation =
                Conversation::awaiting_identity("vpn1", AllowedMethods::default(), 7);
            assert!(
                matches!(
                    conversation.respond(client, &response, never()),
                    Turn::Failed(Reason::EapProtocolError)
                ),
                "{client} {response:?}"
            );
        }
    }

    #[test]
    fn the_first_allowed_method_is_offered_and_a_nak_gets_another_allowed_one() {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path());
        let methods = allowed(&[EapMethod::Tls, EapMethod::MsChapV2]);
        let (mut conversation, start) =
            Conversation::begin("vpn1", methods.clone(), &identity(0), |_| {
                EapTlsSession::start(server.config().unwrap(), 1000, IdentityPolicy::default())
                    .map_err(Reason::from)
            })
            .unwrap();
        assert_eq!(start.eap_type(), Some(eap_type::TLS));
        // RFC 3748 §5.3.1: the Nak lists PEAP (not allowed here), then EAP-MSCHAPv2.
        let nak = EapPacket::new(EapCode::Response, 1, eap_type::NAK, &[25, 26]);
        let Turn::Challenge(challenge) = conversation.respond("vpn1", &nak, never()) else {
            panic!("no EAP-MSCHAPv2 Challenge");
        };
        assert_eq!(
            (challenge.identifier, challenge.eap_type()),
            (2, Some(eap_type::MSCHAPV2))
        );
        assert_eq!(challenge.type_data()[0], 1, "OpCode Challenge");
        assert_eq!(conversation.method(), EapMethod::MsChapV2);
        assert_eq!(conversation.eap_identity(), b"alice@corp.example.test");
        // One Nak a conversation: a peer refusing the method it asked for gets no other.
        let nak_back = EapPacket::new(EapCode::Response, 2, eap_type::NAK, &[13]);
        assert!(matches!(
            conversation.respond("vpn1", &nak_back, never()),
            Turn::Failed(Reason::EapMethodRefused)
        ));
    }

    #[test]
    fn a_nak_naming_nothing_allowed_refuses_the_login() {
        for desired in [&[25u8][..], &[0], &[]] {
            let methods = allowed(&[EapMethod::MsChapV2]);
            let (mut conversation, _) =
                Conversation::begin("vpn1", methods, &identity(0), never()).unwrap();
            let nak = EapPacket::new(EapCode::Response, 1, eap_type::NAK, desired);
            assert!(
                matches!(
                    conversation.respond("vpn1", &nak, never()),
                    Turn::Failed(Reason::EapMethodRefused)
                ),
                "{desired:?}"
            );
        }
    }

    #[test]
    fn a_nak_after_the_method_began_is_a_protocol_error() {
        let methods = allowed(&[EapMethod::MsChapV2, EapMethod::Tls]);
        let (mut conversation, challenge) =
            Conversation::begin("vpn1", methods, &identity_named(0, b"alice"), never()).unwrap();
        let response = mschapv2_response(&challenge, b"alice", PASSWORD);
        let Turn::Verify(attempt) = conversation.respond("vpn1", &response, never()) else {
            panic!("no verification asked");
        };
        let Turn::Challenge(success) = conversation.verified(accepted(&attempt), None) else {
            panic!("no Success-Request");
        };
        let nak = EapPacket::new(EapCode::Response, success.identifier, eap_type::NAK, &[13]);
        assert!(matches!(
            conversation.respond("vpn1", &nak, never()),
            Turn::Failed(Reason::EapProtocolError)
        ));
    }

    #[test]
    fn eap_mschapv2_accepted_sends_the_success_request_then_succeeds_with_its_keys() {
        for (identity, name) in [
            (&b"alice"[..], &b"alice"[..]),
            (b"CORP\\alice", b"CORP\\alice"),
        ] {
            let methods = allowed(&[EapMethod::MsChapV2]);
            let (mut conversation, challenge) =
                Conversation::begin("vpn1", methods, &identity_named(0, identity), never())
                    .unwrap();
            let response = mschapv2_response(&challenge, name, PASSWORD);
            let Turn::Verify(attempt) = conversation.respond("vpn1", &response, never()) else {
                panic!("no verification asked");
            };
            assert_eq!(attempt.user_name, name);
            let Turn::Challenge(success) = conversation.verified(accepted(&attempt), None) else {
                panic!("no Success-Request");
            };
            assert_eq!(success.type_data()[0], 3, "OpCode Success");
            assert!(success.type_data()[4..].starts_with(b"S="));
            // The NAS retransmits the Response: the same Success-Request, no second check.
            assert!(matches!(
                conversation.respond("vpn1", &response, never()),
                Turn::Challenge(again) if again == success
            ));
            let ack = EapPacket::new(
                EapCode::Response,
                success.identifier,
                eap_type::MSCHAPV2,
                &[3],
            );
            let Turn::Succeeded(keys) = conversation.respond("vpn1", &ack, never()) else {
                panic!("no success");
            };
            let expected = mppe_keys(
                &password_hash_hash(&password_hash(PASSWORD)),
                &attempt.nt_response,
            );
            assert_eq!(keys.recv.as_slice(), expected.receive.as_slice());
            assert_eq!(keys.send.as_slice(), expected.send.as_slice());
        }
    }

    #[test]
    fn eap_mschapv2_refused_tells_the_peer_then_ends_for_the_recorded_reason() {
        let methods = allowed(&[EapMethod::MsChapV2]);
        let (mut conversation, challenge) =
            Conversation::begin("vpn1", methods, &identity_named(0, b"alice"), never()).unwrap();
        let response = mschapv2_response(&challenge, b"alice", "wrong");
        assert!(matches!(
            conversation.respond("vpn1", &response, never()),
            Turn::Verify(_)
        ));
        let Turn::Refusing(failure, Reason::BadPassword) = conversation.verified(
            Verified::Refused(MsChapErrorCode::AuthenticationFailure),
            Some(Reason::BadPassword),
        ) else {
            panic!("no Failure-Request");
        };
        assert!(failure.type_data()[4..].starts_with(b"E=691 R=0 C="));
        let ack = EapPacket::new(
            EapCode::Response,
            failure.identifier,
            eap_type::MSCHAPV2,
            &[4],
        );
        assert!(matches!(
            conversation.respond("vpn1", &ack, never()),
            Turn::Ended(Reason::BadPassword)
        ));
    }

    #[test]
    fn an_mschapv2_name_that_is_not_the_identity_is_refused_unchecked() {
        let methods = allowed(&[EapMethod::MsChapV2]);
        let (mut conversation, challenge) =
            Conversation::begin("vpn1", methods, &identity_named(0, b"alice"), never()).unwrap();
        let response = mschapv2_response(&challenge, b"CORP\\bob", PASSWORD);
        let Turn::Refusing(failure, Reason::IdentityMismatch) =
            conversation.respond("vpn1", &response, never())
        else {
            panic!("not refused");
        };
        assert!(failure.type_data()[4..].starts_with(b"E=691"));
        assert!(names_agree(b"CORP\\Alice", b"alice") && !names_agree(b"alice", b"alicia"));
    }
}
