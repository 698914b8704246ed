//! One PEAPv0 conversation with EAP-MSCHAPv2 inside ([MS-PEAP] §3.1.5, as Windows, hostapd and
//! wpa_supplicant run it): the TLS tunnel (`adgate_certs`, no client certificate), then inside
//! it an EAP-Request/Identity, EAP-MSCHAPv2 for that identity, and the Result TLV that says
//! how the inner method ended; the peer's Result TLV answer ends PEAP. The outer identity may
//! be anonymous: the inner identity is the one the MS-CHAPv2 Name must agree with.
//!
//! The keys are the tunnel's (RFC 5216 §2.3's TLS 1.2 derivation), not MS-CHAPv2's: adgate
//! offers no crypto binding, which leaves PEAPv0's MSK as hostapd derives it without one.

use adgate_certs::{EapTlsSession, Step};
use adgate_radius::eap::eap_type;
use adgate_radius::eap_mschapv2::{Attempt, EapMsChapV2, Failure, Verified};
use adgate_radius::ms_chap::MsChapErrorCode;
use adgate_radius::peap::{headerless_response, inner_octets, result_request, result_response};
use adgate_radius::{EapCode, EapPacket};

use super::conversation::{names_agree, SessionKeys, SERVER_NAME};
use crate::reason::Reason;

/// What PEAP answers a peer message with.
pub(crate) enum PeapTurn {
    /// Send a PEAP Request with this Type-Data.
    Send(Vec<u8>),
    /// Have the inner MS-CHAPv2 attempt checked; then [`Peap::verified`].
    Verify(Attempt),
    /// The inner Name is not the inner identity: refused, and this Type-Data carries the
    /// inner Failure-Request.
    Mismatch(Vec<u8>),
    /// The peer confirmed the inner method's success: EAP-Success with the tunnel's keys.
    Succeeded(SessionKeys),
    /// The peer confirmed the inner method's failure (already decided and recorded).
    Ended,
    Failed(Reason),
}

/// Where the inner conversation stands.
enum Stage {
    /// The TLS handshake.
    Handshake,
    /// The inner EAP-Request/Identity is out.
    AwaitingIdentity,
    /// Inner EAP-MSCHAPv2 for the inner identity.
    MsChapV2(Box<EapMsChapV2>),
    /// The Result TLV is out, saying whether the inner method succeeded.
    AwaitingResult {
        success: bool,
    },
    Over,
}

/// The server's side of one PEAPv0 conversation.
pub(crate) struct Peap {
    tunnel: EapTlsSession,
    stage: Stage,
    /// The EAP-Response/Identity inside the tunnel, once the peer sent it.
    identity: Option<Vec<u8>>,
    /// The Identifier of inner Requests (only the Extensions Request shows it on the wire).
    inner_identifier: u8,
}

impl Peap {
    /// A conversation over a tunnel that has sent its PEAP Start.
    pub(crate) fn new(tunnel: EapTlsSession) -> Peap {
        Peap {
            tunnel,
            stage: Stage::Handshake,
            identity: None,
            inner_identifier: 0,
        }
    }

    /// The identity the peer gave inside the tunnel, once it did.
    pub(crate) fn inner_identity(&self) -> Option<&[u8]> {
        self.identity.as_deref()
    }

    /// The TLS session under the tunnel: its refusal, once its TLS alert is being sent, ends
    /// the conversation as for EAP-TLS.
    pub(crate) fn tunnel(&self) -> &EapTlsSession {
        &self.tunnel
    }

    /// Handles the Type-Data of the peer's PEAP Response.
    pub(crate) fn advance(&mut self, type_data: &[u8]) -> PeapTurn {
        match self.tunnel.advance(type_data) {
            Step::Continue(next) => PeapTurn::Send(next),
            Step::TunnelOpen => {
                self.stage = Stage::AwaitingIdentity;
                let identity = self.inner_request(eap_type::IDENTITY, &[]);
                self.send_inner(&identity)
            }
            Step::Inner(plaintext) => self.inner(&plaintext),
            Step::Failed(rejection) => PeapTurn::Failed(rejection.into()),
            Step::Established(_) => PeapTurn::Failed(Reason::EapProtocolError),
        }
    }

    /// The inner verifier's answer to [`PeapTurn::Verify`].
    pub(crate) fn verified(&mut self, verified: Verified) -> PeapTurn {
        let Stage::MsChapV2(machine) = &mut self.stage else {
            return PeapTurn::Failed(Reason::EapProtocolError);
        };
        match machine.verified(verified) {
            Some(type_data) => {
                let request = self.inner_request(eap_type::MSCHAPV2, &type_data);
                self.send_inner(&request)
            }
            None => PeapTurn::Failed(Reason::EapProtocolError),
        }
    }

    /// A message the peer sent through the tunnel.
    fn inner(&mut self, plaintext: &[u8]) -> PeapTurn {
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::AwaitingIdentity => {
                let response = match headerless_response(plaintext, self.inner_identifier) {
                    Ok(response) if response.eap_type() == Some(eap_type::IDENTITY) => response,
                    _ => return PeapTurn::Failed(Reason::EapProtocolError),
                };
                let Ok((machine, challenge)) =
                    EapMsChapV2::start(self.inner_identifier.wrapping_add(1), SERVER_NAME)
                else {
                    return PeapTurn::Failed(Reason::EapProtocolError);
                };
                self.identity = Some(response.type_data().to_vec());
                self.stage = Stage::MsChapV2(Box::new(machine));
                let request = self.inner_request(eap_type::MSCHAPV2, &challenge);
                self.send_inner(&request)
            }
            Stage::MsChapV2(mut machine) => {
                let response = match headerless_response(plaintext, self.inner_identifier) {
                    Ok(response) if response.eap_type() == Some(eap_type::MSCHAPV2) => response,
                    _ => return PeapTurn::Failed(Reason::EapProtocolError),
                };
                let step = machine.respond(response.type_data());
                self.stage = Stage::MsChapV2(machine);
                self.mschapv2_step(step)
            }
            Stage::AwaitingResult { success } => match (success, result_response(plaintext)) {
                (true, Some(true)) => match self.tunnel.tunnel_msk() {
                    Ok(msk) => PeapTurn::Succeeded(SessionKeys::new(
                        msk.mppe_recv_key(),
                        msk.mppe_send_key(),
                    )),
                    Err(rejection) => PeapTurn::Failed(rejection.into()),
                },
                (false, Some(false)) => PeapTurn::Ended,
                _ => PeapTurn::Failed(Reason::EapProtocolError),
            },
            Stage::Handshake | Stage::Over => PeapTurn::Failed(Reason::EapProtocolError),
        }
    }

    fn mschapv2_step(&mut self, step: adgate_radius::eap_mschapv2::Step) -> PeapTurn {
        use adgate_radius::eap_mschapv2::Step as Inner;
        match step {
            Inner::Send(type_data) => {
                let request = self.inner_request(eap_type::MSCHAPV2, &type_data);
                self.send_inner(&request)
            }
            Inner::Verify(attempt) => {
                let agree = self
                    .identity
                    .as_deref()
                    .is_some_and(|identity| names_agree(identity, &attempt.user_name));
                if agree {
                    return PeapTurn::Verify(attempt);
                }
                match self.verified(Verified::Refused(MsChapErrorCode::AuthenticationFailure)) {
                    PeapTurn::Send(type_data) => PeapTurn::Mismatch(type_data),
                    other => other,
                }
            }
            // The inner method is over: the Result TLV says how (MS-PEAP §3.1.5.6).
            Inner::Succeeded(_) => self.send_result(true),
            Inner::Failed(Failure::Refused) => self.send_result(false),
            Inner::Failed(Failure::Protocol) => PeapTurn::Failed(Reason::EapProtocolError),
        }
    }

    fn send_result(&mut self, success: bool) -> PeapTurn {
        self.stage = Stage::AwaitingResult { success };
        self.inner_identifier = self.inner_identifier.wrapping_add(1);
        let result = result_request(self.inner_identifier, success);
        self.send_inner(&result)
    }

    /// The next inner Request.
    fn inner_request(&mut self, inner_type: u8, type_data: &[u8]) -> EapPacket {
        self.inner_identifier = self.inner_identifier.wrapping_add(1);
        EapPacket::new(
            EapCode::Request,
            self.inner_identifier,
            inner_type,
            type_data,
        )
    }

    fn send_inner(&mut self, request: &EapPacket) -> PeapTurn {
        match self.tunnel.send_inner(&inner_octets(request)) {
            Step::Continue(type_data) => PeapTurn::Send(type_data),
            Step::Failed(rejection) => PeapTurn::Failed(rejection.into()),
            _ => PeapTurn::Failed(Reason::EapProtocolError),
        }
    }
}
