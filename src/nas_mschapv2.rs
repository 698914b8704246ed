//! The simulated NAS's MS-CHAPv2 peer (`adgate nas ms-chapv2`, `adgate nas bench --kind
//! ms-chapv2`): an Access-Request with MS-CHAP-Challenge and MS-CHAP2-Response computed from
//! the user's password (RFC 2759 §8 with adgate-radius's arithmetic), and the Access-Accept
//! checked as a NAS and a peer would: MS-CHAP2-Success must be the authenticator response the
//! password implies (RFC 2759 §8.7), and the MPPE keys the RFC 3079 derivation.

use std::fmt;

use adgate_radius::mppe_keys::recover_mppe_keys;
use adgate_radius::ms_chap::{request_attributes, response_text};
use adgate_radius::mschapv2::{
    authenticator_response, mppe_keys, nt_response, password_hash, password_hash_hash,
};
use adgate_radius::{MsChap2Request, RadiusClient, ResponseCode, SharedSecret};
use anyhow::Context;
use zeroize::Zeroizing;

/// One user's MS-CHAPv2 logins.
pub(crate) struct MsChapV2Login {
    password: Zeroizing<String>,
    secret: SharedSecret,
}

/// What came back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MsChapV2Outcome {
    /// An Access-Accept whose `S=` and MPPE keys are the ones the password implies.
    Verified,
    /// An Access-Accept that does not prove the server knew the password hash, or whose keys
    /// are missing or wrong.
    AcceptNotVerified(&'static str),
    /// An Access-Reject, with its MS-CHAP-Error text.
    Reject(String),
    Other(ResponseCode),
}

impl fmt::Display for MsChapV2Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsChapV2Outcome::Verified => {
                f.write_str("Access-Accept (S= and MPPE keys as RFC 2759/3079 derive them)")
            }
            MsChapV2Outcome::AcceptNotVerified(what) => write!(f, "Access-Accept, but {what}"),
            MsChapV2Outcome::Reject(error) => write!(f, "Access-Reject ({error})"),
            MsChapV2Outcome::Other(code) => write!(f, "{code:?}"),
        }
    }
}

impl MsChapV2Login {
    pub(crate) fn new(password: &[u8], secret: SharedSecret) -> anyhow::Result<MsChapV2Login> {
        let password = std::str::from_utf8(password).context("the password is not UTF-8")?;
        Ok(MsChapV2Login {
            password: Zeroizing::new(password.to_owned()),
            secret,
        })
    }

    /// One login of `user` (sent as User-Name; hashed without a `DOMAIN\` prefix).
    pub(crate) async fn run(
        &self,
        client: &RadiusClient,
        user: &str,
    ) -> anyhow::Result<MsChapV2Outcome> {
        let mut challenges = [0u8; 33];
        getrandom::fill(&mut challenges).context("the system random number generator")?;
        let [ident, challenges @ ..] = challenges;
        let (authenticator_challenge, peer_challenge) = challenges.split_at(16);
        let authenticator_challenge: [u8; 16] = authenticator_challenge.try_into()?;
        let peer_challenge: [u8; 16] = peer_challenge.try_into()?;
        let hashed = user.rsplit('\\').next().unwrap_or(user).as_bytes();
        let response = nt_response(
            &authenticator_challenge,
            &peer_challenge,
            hashed,
            &self.password,
        );
        let request = MsChap2Request {
            ident,
            authenticator_challenge,
            peer_challenge,
            nt_response: response,
        };
        let attributes = request_attributes(&request);
        let credential: Vec<(u8, &[u8])> = attributes
            .iter()
            .map(|(attribute_type, value)| (*attribute_type, value.as_slice()))
            .collect();
        let (answer, request_authenticator) = client
            .access_with(user.as_bytes(), &credential)
            .await
            .with_context(|| format!("no valid answer from {}", client.server()))?;
        Ok(match answer.code {
            ResponseCode::Accept => {
                let hash_hash = password_hash_hash(&password_hash(&self.password));
                let expected = authenticator_response(
                    &hash_hash,
                    &response,
                    &peer_challenge,
                    &authenticator_challenge,
                    hashed,
                );
                let keys = mppe_keys(&hash_hash, &response);
                let received =
                    recover_mppe_keys(&self.secret, &request_authenticator, &answer.attributes);
                if response_text(&answer.attributes, true).as_deref() != Some(expected.as_bytes()) {
                    MsChapV2Outcome::AcceptNotVerified("MS-CHAP2-Success is not the expected S=")
                } else if received.as_ref().is_none_or(|(recv, send)| {
                    recv.as_slice() != keys.receive.as_slice()
                        || send.as_slice() != keys.send.as_slice()
                }) {
                    MsChapV2Outcome::AcceptNotVerified("the MPPE keys are missing or wrong")
                } else {
                    MsChapV2Outcome::Verified
                }
            }
            ResponseCode::Reject => MsChapV2Outcome::Reject(
                response_text(&answer.attributes, false)
                    .map(|text| String::from_utf8_lossy(&text).into_owned())
                    .unwrap_or_else(|| "no MS-CHAP-Error".to_owned()),
            ),
            code => MsChapV2Outcome::Other(code),
        })
    }
}
