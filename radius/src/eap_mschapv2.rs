//! EAP-MSCHAPv2 on the server's side (draft-kamath-pppext-eap-mschapv2-02, as hostapd,
//! wpa_supplicant, strongSwan and Windows speak it): a pure state machine over the Type-Data
//! of EAP Type 26, which asks whoever drives it to have the NT-Response checked.
//!
//! ```text
//! server: Challenge (authenticator challenge, server name)
//! peer:   Response  (peer challenge, NT-Response, name)     -> Step::Verify
//! server: Success-Request "S=<authenticator response> M=…"   <- verified(Accepted)
//!      or Failure-Request "E=691 R=0 C=… V=3 M=…"            <- verified(Refused)
//! peer:   Success-Response                                   -> Step::Succeeded (MSK)
//!      or Failure-Response                                   -> Step::Failed(Refused)
//! ```
//! The EAP Identifier, retransmissions and the Nak belong to the EAP conversation around it;
//! this file checks only the MS-CHAPv2-ID and the MS-Length of what the peer sends. The
//! machine never sees a password nor its hash: the verifier (a domain controller, through
//! winbind) answers with the authenticator response and the MPPE keys it derived
//! (`mschapv2.rs`). Nothing here panics on what the peer sends.

use std::fmt;

use zeroize::Zeroizing;

use crate::ms_chap::{failure_text, MsChapErrorCode};
use crate::mschapv2::{Challenge16, MppeKeys, NtResponse};

/// The OpCodes (draft-kamath-pppext-eap-mschapv2-02 §2).
const CHALLENGE: u8 = 1;
const RESPONSE: u8 = 2;
const SUCCESS: u8 = 3;
const FAILURE: u8 = 4;
/// Change-Password (§2.5): not offered (R=0), so treated as the end of a failure.
const CHANGE_PASSWORD: u8 = 7;
/// OpCode, MS-CHAPv2-ID and MS-Length.
const HEADER_LEN: usize = 4;
/// The Value-Size of a Challenge (16) and of a Response (49: peer challenge, 8 reserved octets,
/// NT-Response, flags), RFC 2759 §4.
const CHALLENGE_VALUE_SIZE: u8 = 16;
const RESPONSE_VALUE_SIZE: u8 = 49;

/// What the peer's Response asks to have checked: the verifier's input.
pub struct Attempt {
    /// The Name of the Response, as sent (`alice`, `CORP\alice`).
    pub user_name: Vec<u8>,
    pub authenticator_challenge: Challenge16,
    pub peer_challenge: Challenge16,
    pub nt_response: NtResponse,
}

impl fmt::Debug for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("user_name", &String::from_utf8_lossy(&self.user_name))
            .finish_non_exhaustive()
    }
}

/// The verifier's answer.
pub enum Verified {
    /// The NT-Response is right and the login may proceed: the authenticator response
    /// (`S=…`, RFC 2759 §8.7) and the MPPE keys (RFC 3079 §3.4), both from the hash of the
    /// password hash the domain controller returned.
    Accepted {
        authenticator_response: String,
        keys: MppeKeys,
    },
    /// Refused, with the error the peer is told.
    Refused(MsChapErrorCode),
}

/// How a conversation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The peer acknowledged our Failure-Request: the refusal the verifier gave.
    Refused,
    /// The peer's message does not belong here (bad framing, wrong OpCode or ID), or it
    /// refused our authenticator response.
    Protocol,
}

/// What to do after a peer message.
#[derive(Debug)]
pub enum Step {
    /// Send an EAP-Request/EAP-MSCHAPv2 with this Type-Data.
    Send(Vec<u8>),
    /// Have this attempt checked, then hand the answer to [`EapMsChapV2::verified`].
    Verify(Attempt),
    /// The peer acknowledged our Success-Request: EAP-Success, with these keys.
    Succeeded(MsChapV2Keys),
    /// Send EAP-Failure.
    Failed(Failure),
}

/// The keys of a successful EAP-MSCHAPv2 login, the server's view of RFC 3079 §3.4.
pub struct MsChapV2Keys(MppeKeys);

impl MsChapV2Keys {
    /// MS-MPPE-Recv-Key (RFC 2548 §2.4.3): the first half of the MSK.
    pub fn mppe_recv_key(&self) -> &[u8] {
        self.0.receive.as_slice()
    }

    /// MS-MPPE-Send-Key (RFC 2548 §2.4.2): the second half of the MSK.
    pub fn mppe_send_key(&self) -> &[u8] {
        self.0.send.as_slice()
    }

    /// The 32-octet MSK: the server's receive key, then its send key — hostapd's
    /// `eap_mschapv2_getKey` ("MSK = server MS-MPPE-Recv-Key | MS-MPPE-Send-Key") and
    /// wpa_supplicant's peer, which is what a NAS rebuilds from the two attributes.
    pub fn msk(&self) -> Zeroizing<[u8; 32]> {
        let mut msk = Zeroizing::new([0u8; 32]);
        for (out, octet) in msk
            .iter_mut()
            .zip(self.0.receive.iter().chain(self.0.send.iter()))
        {
            *out = *octet;
        }
        msk
    }
}

impl fmt::Debug for MsChapV2Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MsChapV2Keys(<redacted>)")
    }
}

/// Where the conversation stands.
enum State {
    /// Our Challenge is out; the peer's Response comes next.
    Challenged,
    /// The Response is being checked.
    Verifying,
    /// Our Success-Request is out; the keys wait for the peer's Success-Response.
    Succeeding(MppeKeys),
    /// Our Failure-Request is out.
    Failing,
    Over,
}

/// The server's side of one EAP-MSCHAPv2 conversation.
pub struct EapMsChapV2 {
    state: State,
    /// The MS-CHAPv2-ID of our Challenge, which the peer echoes.
    id: u8,
    authenticator_challenge: Challenge16,
}

/// The system random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct NoRandomness;

impl EapMsChapV2 {
    /// A new conversation with a fresh random challenge, and the Type-Data of its Challenge.
    /// `id` becomes the MS-CHAPv2-ID (hostapd uses the EAP Identifier); `server_name` is the
    /// Name of the Challenge.
    pub fn start(id: u8, server_name: &[u8]) -> Result<(Self, Vec<u8>), NoRandomness> {
        let mut challenge = [0u8; 16];
        getrandom::fill(&mut challenge).map_err(|_| NoRandomness)?;
        Ok(Self::with_challenge(id, challenge, server_name))
    }

    /// As [`start`](Self::start), with a given challenge.
    fn with_challenge(id: u8, challenge: Challenge16, server_name: &[u8]) -> (Self, Vec<u8>) {
        let mut data = Vec::with_capacity(1 + 16 + server_name.len());
        data.push(CHALLENGE_VALUE_SIZE);
        data.extend_from_slice(&challenge);
        data.extend_from_slice(server_name);
        let machine = Self {
            state: State::Challenged,
            id,
            authenticator_challenge: challenge,
        };
        (machine, message(CHALLENGE, id, &data))
    }

    /// Handles the Type-Data of the peer's EAP-MSCHAPv2 Response.
    pub fn respond(&mut self, type_data: &[u8]) -> Step {
        let (opcode, body) = match self.parse(type_data) {
            Some(parsed) => parsed,
            None => return self.fail(Failure::Protocol),
        };
        match (std::mem::replace(&mut self.state, State::Over), opcode) {
            (State::Challenged, RESPONSE) => match parse_response(body) {
                Some((peer_challenge, nt_response, user_name)) => {
                    self.state = State::Verifying;
                    Step::Verify(Attempt {
                        user_name: user_name.to_vec(),
                        authenticator_challenge: self.authenticator_challenge,
                        peer_challenge,
                        nt_response,
                    })
                }
                None => Step::Failed(Failure::Protocol),
            },
            (State::Succeeding(keys), SUCCESS) => Step::Succeeded(MsChapV2Keys(keys)),
            (State::Failing, FAILURE | CHANGE_PASSWORD) => Step::Failed(Failure::Refused),
            // A Failure-Response to our Success-Request: the peer refused our `S=`.
            _ => Step::Failed(Failure::Protocol),
        }
    }

    /// The verifier's answer to the [`Step::Verify`] just handed out: the Type-Data of the
    /// Success-Request or the Failure-Request. `None` when no attempt was being checked.
    pub fn verified(&mut self, verified: Verified) -> Option<Vec<u8>> {
        let State::Verifying = std::mem::replace(&mut self.state, State::Over) else {
            return None;
        };
        match verified {
            Verified::Accepted {
                authenticator_response,
                keys,
            } => {
                self.state = State::Succeeding(keys);
                let text = format!("{authenticator_response} M=Access granted");
                Some(message(SUCCESS, self.id, text.as_bytes()))
            }
            Verified::Refused(error) => {
                // C= is a new challenge for a retry; R=0 says there is none (RFC 2759 §6).
                let mut challenge = [0u8; 16];
                getrandom::fill(&mut challenge).ok()?;
                let text = format!("{} M=Access denied", failure_text(error, &challenge));
                self.state = State::Failing;
                Some(message(FAILURE, self.id, text.as_bytes()))
            }
        }
    }

    /// OpCode and what follows the header, if the framing holds: a Response carries our
    /// MS-CHAPv2-ID and an MS-Length equal to its length; Success and Failure Responses are
    /// the OpCode alone (§2.3, §2.4).
    fn parse<'a>(&self, type_data: &'a [u8]) -> Option<(u8, &'a [u8])> {
        match type_data {
            [opcode @ (SUCCESS | FAILURE)] => Some((*opcode, &[])),
            [opcode, id, length_high, length_low, body @ ..] => {
                let length = usize::from(u16::from_be_bytes([*length_high, *length_low]));
                (*id == self.id && length == type_data.len()).then_some((*opcode, body))
            }
            _ => None,
        }
    }

    fn fail(&mut self, failure: Failure) -> Step {
        self.state = State::Over;
        Step::Failed(failure)
    }
}

/// Peer challenge, NT-Response and Name of a Response's body (§2.2, RFC 2759 §4).
fn parse_response(body: &[u8]) -> Option<(Challenge16, NtResponse, &[u8])> {
    let (&value_size, rest) = body.split_first()?;
    if value_size != RESPONSE_VALUE_SIZE {
        return None;
    }
    let (peer_challenge, rest) = rest.split_first_chunk::<16>()?;
    let (_reserved, rest) = rest.split_first_chunk::<8>()?;
    let (nt_response, rest) = rest.split_first_chunk::<24>()?;
    let (_flags, name) = rest.split_first()?;
    Some((*peer_challenge, *nt_response, name))
}

/// OpCode, MS-CHAPv2-ID, MS-Length (the EAP Length minus 5: from the OpCode on), then `data`.
fn message(opcode: u8, id: u8, data: &[u8]) -> Vec<u8> {
    let length = u16::try_from(HEADER_LEN + data.len()).unwrap_or(u16::MAX);
    let mut type_data = Vec::with_capacity(usize::from(length));
    type_data.extend_from_slice(&[opcode, id]);
    type_data.extend_from_slice(&length.to_be_bytes());
    type_data.extend_from_slice(data);
    type_data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mschapv2::{
        authenticator_response, mppe_keys, name_without_domain, nt_response, password_hash,
        password_hash_hash,
    };

    const PASSWORD: &str = "Corp-Passw0rd!";
    const CHALLENGE16: Challenge16 = [0x5b; 16];
    const PEER_CHALLENGE: Challenge16 = [0x21; 16];

    /// The peer's Response to `challenge` as wpa_supplicant builds it.
    fn response(id: u8, challenge: &[u8], name: &[u8], password: &str) -> Vec<u8> {
        // Challenge Type-Data: OpCode, ID, MS-Length, Value-Size, challenge, name.
        let authenticator_challenge: Challenge16 = challenge[5..21].try_into().unwrap();
        let nt = nt_response(
            &authenticator_challenge,
            &PEER_CHALLENGE,
            name_without_domain(name),
            password,
        );
        let mut data = vec![RESPONSE_VALUE_SIZE];
        data.extend_from_slice(&PEER_CHALLENGE);
        data.extend_from_slice(&[0; 8]);
        data.extend_from_slice(&nt);
        data.push(0);
        data.extend_from_slice(name);
        message(RESPONSE, id, &data)
    }

    /// The verifier a domain controller would be: accepts `PASSWORD` only.
    fn verify(attempt: &Attempt) -> Verified {
        let expected = nt_response(
            &attempt.authenticator_challenge,
            &attempt.peer_challenge,
            name_without_domain(&attempt.user_name),
            PASSWORD,
        );
        if expected == attempt.nt_response {
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
        } else {
            Verified::Refused(MsChapErrorCode::AuthenticationFailure)
        }
    }

    #[test]
    fn the_challenge_carries_its_id_length_challenge_and_name() {
        let (_, challenge) = EapMsChapV2::with_challenge(9, CHALLENGE16, b"adgate");
        assert_eq!(&challenge[..5], &[1, 9, 0, 27, 16]);
        assert_eq!(&challenge[5..21], &CHALLENGE16);
        assert_eq!(&challenge[21..], b"adgate");
        let (_, random) = EapMsChapV2::start(9, b"adgate").unwrap();
        assert_ne!(&random[5..21], &CHALLENGE16);
    }

    #[test]
    fn the_right_password_gets_the_authenticator_response_then_the_keys() {
        for name in [&b"alice"[..], b"CORP\\alice"] {
            let (mut machine, challenge) = EapMsChapV2::with_challenge(3, CHALLENGE16, b"adgate");
            let Step::Verify(attempt) = machine.respond(&response(3, &challenge, name, PASSWORD))
            else {
                panic!("no verification asked");
            };
            assert_eq!(attempt.user_name, name);
            assert_eq!(attempt.authenticator_challenge, CHALLENGE16);
            let success = machine.verified(verify(&attempt)).unwrap();
            let hash_hash = password_hash_hash(&password_hash(PASSWORD));
            let expected_s = authenticator_response(
                &hash_hash,
                &attempt.nt_response,
                &PEER_CHALLENGE,
                &CHALLENGE16,
                b"alice",
            );
            assert_eq!(&success[..2], &[SUCCESS, 3]);
            assert_eq!(
                usize::from(u16::from_be_bytes([success[2], success[3]])),
                success.len()
            );
            let text = std::str::from_utf8(&success[4..]).unwrap();
            assert_eq!(text, format!("{expected_s} M=Access granted"));
            let Step::Succeeded(keys) = machine.respond(&[SUCCESS]) else {
                panic!("no success");
            };
            let expected = mppe_keys(&hash_hash, &attempt.nt_response);
            assert_eq!(keys.mppe_recv_key(), expected.receive.as_slice());
            assert_eq!(keys.mppe_send_key(), expected.send.as_slice());
            assert_eq!(
                keys.msk().as_slice(),
                [expected.receive.as_slice(), expected.send.as_slice()].concat()
            );
            assert!(matches!(
                machine.respond(&[SUCCESS]),
                Step::Failed(Failure::Protocol)
            ));
        }
    }

    #[test]
    fn a_wrong_password_gets_a_failure_request_then_ends_refused() {
        let (mut machine, challenge) = EapMsChapV2::with_challenge(3, CHALLENGE16, b"adgate");
        let Step::Verify(attempt) =
            machine.respond(&response(3, &challenge, b"alice", "wrong password"))
        else {
            panic!("no verification asked");
        };
        let failure = machine.verified(verify(&attempt)).unwrap();
        assert_eq!(&failure[..2], &[FAILURE, 3]);
        let text = std::str::from_utf8(&failure[4..]).unwrap();
        let fields: Vec<&str> = text.split(' ').collect();
        assert_eq!(fields[..2], ["E=691", "R=0"]);
        assert!(
            fields[2].starts_with("C=") && fields[2].len() == 34,
            "{text}"
        );
        assert_eq!(fields[3..], ["V=3", "M=Access", "denied"]);
        assert!(matches!(
            machine.respond(&[FAILURE]),
            Step::Failed(Failure::Refused)
        ));
    }

    #[test]
    fn refusals_carry_their_error_code() {
        for (error, code) in [
            (MsChapErrorCode::RestrictedLogonHours, "E=646"),
            (MsChapErrorCode::AccountDisabled, "E=647"),
            (MsChapErrorCode::PasswordExpired, "E=648"),
            (MsChapErrorCode::NoDialinPermission, "E=649"),
        ] {
            let (mut machine, challenge) = EapMsChapV2::with_challenge(1, CHALLENGE16, b"adgate");
            assert!(matches!(
                machine.respond(&response(1, &challenge, b"bob", PASSWORD)),
                Step::Verify(_)
            ));
            let failure = machine.verified(Verified::Refused(error)).unwrap();
            assert!(failure[4..].starts_with(code.as_bytes()), "{error:?}");
        }
    }

    #[test]
    fn what_does_not_belong_fails_without_asking_the_verifier() {
        let (_, challenge) = EapMsChapV2::with_challenge(3, CHALLENGE16, b"adgate");
        let good = response(3, &challenge, b"alice", PASSWORD);
        let mut wrong_length = good.clone();
        wrong_length[3] ^= 1;
        let mut short_value = good.clone();
        short_value[4] = 48;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            (
                "another MS-CHAPv2-ID",
                response(4, &challenge, b"alice", PASSWORD),
            ),
            ("MS-Length off", wrong_length),
            ("Value-Size 48", short_value),
            ("truncated", good[..40].to_vec()),
            ("a Success-Response first", vec![SUCCESS]),
            ("a Challenge", challenge.clone()),
        ];
        for (case, type_data) in cases {
            let (mut machine, _) = EapMsChapV2::with_challenge(3, CHALLENGE16, b"adgate");
            assert!(
                matches!(machine.respond(&type_data), Step::Failed(Failure::Protocol)),
                "{case}"
            );
            assert!(machine
                .verified(Verified::Refused(MsChapErrorCode::AuthenticationFailure))
                .is_none());
        }
    }

    #[test]
    fn a_peer_refusing_our_authenticator_response_is_a_protocol_failure() {
        let (mut machine, challenge) = EapMsChapV2::with_challenge(3, CHALLENGE16, b"adgate");
        let Step::Verify(attempt) = machine.respond(&response(3, &challenge, b"alice", PASSWORD))
        else {
            panic!("no verification asked");
        };
        machine.verified(verify(&attempt)).unwrap();
        assert!(matches!(
            machine.respond(&[FAILURE]),
            Step::Failed(Failure::Protocol)
        ));
    }

    #[test]
    fn debug_output_holds_no_response_or_key() {
        let (mut machine, challenge) = EapMsChapV2::with_challenge(3, CHALLENGE16, b"adgate");
        let Step::Verify(attempt) = machine.respond(&response(3, &challenge, b"alice", PASSWORD))
        else {
            panic!("no verification asked");
        };
        let shown = format!("{attempt:?}");
        assert!(
            shown.contains("alice") && !shown.contains("nt_response"),
            "{shown}"
        );
        machine.verified(verify(&attempt)).unwrap();
        let Step::Succeeded(keys) = machine.respond(&[SUCCESS]) else {
            panic!("no success");
        };
        assert_eq!(format!("{keys:?}"), "MsChapV2Keys(<redacted>)");
    }
}
