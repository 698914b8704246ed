//! RADIUS MS-CHAPv2 (RFC 2548 §2.3): MS-CHAP-Challenge and MS-CHAP2-Response in, the shared
//! login step, and out an Access-Accept with MS-CHAP2-Success (`S=…`, RFC 2759 §8.7) and the
//! MPPE keys (RFC 3079 §3.4 hidden per RFC 2548 §2.4), or an Access-Reject with MS-CHAP-Error.
//!
//! Every refusal says `E=691` (authentication failure), whatever its reason: adgate judges the
//! account before the password, so a more specific code (647 disabled, 648 expired, …) would
//! tell anyone who knows a user name the state of the account without knowing the password —
//! reasons go to the trail and the log, never onto the wire. 648 would also make Windows offer
//! a password change, which adgate does not do (MS-CHAP-CPW).

use adgate_authz::AccountDirectory;
use adgate_radius::mppe_keys::mppe_key_attributes;
use adgate_radius::ms_chap::{ms_chap2_success, ms_chap_error, MsChapErrorCode};
use adgate_radius::{AccessRequest, MsChap2Request, ReplyAttribute};

use super::{MsChapV2Response, MsChapV2Step, MsChapV2Verdict};
use crate::decision::{Decided, Method};
use crate::reason::Reason;

impl<D: AccountDirectory> MsChapV2Step<'_, D> {
    /// Decides the RADIUS MS-CHAPv2 login `ms_chap` of `request`.
    pub(crate) async fn radius_login(
        &self,
        request: &AccessRequest,
        ms_chap: &MsChap2Request,
    ) -> Decided {
        let response = MsChapV2Response {
            user_name: request.user_name.as_deref().unwrap_or_default(),
            authenticator_challenge: ms_chap.authenticator_challenge,
            peer_challenge: ms_chap.peer_challenge,
            nt_response: ms_chap.nt_response,
        };
        let failure = failure_attribute(ms_chap.ident);
        match self.decide(request, Method::MsChapV2, &response).await {
            MsChapV2Verdict::Refused(mut reject) => {
                reject.attributes = failure;
                Decided::Reject(reject)
            }
            MsChapV2Verdict::Accepted(accepted) => {
                let success = ms_chap2_success(ms_chap.ident, &accepted.authenticator_response);
                let keys = mppe_key_attributes(
                    &request.client.secret,
                    &request.request_authenticator,
                    accepted.keys.receive.as_slice(),
                    accepted.keys.send.as_slice(),
                );
                match (success, keys) {
                    (Ok(success), Ok([recv_key, send_key])) => Decided::Accept(
                        accepted.into_accept(vec![success, recv_key, send_key], failure),
                    ),
                    // Neither can fail for these sizes short of the system RNG failing.
                    _ => {
                        let mut reject = accepted
                            .into_accept(Vec::new(), failure)
                            .refused(Reason::ReplyUnencodable);
                        reject.attributes = failure_attribute(ms_chap.ident);
                        Decided::Reject(reject)
                    }
                }
            }
        }
    }
}

/// MS-CHAP-Error `E=691 R=0` with a fresh challenge, or nothing if the system RNG fails (the
/// Access-Reject alone still refuses).
fn failure_attribute(ident: u8) -> Vec<ReplyAttribute> {
    let mut challenge = [0u8; 16];
    if getrandom::fill(&mut challenge).is_err() {
        return Vec::new();
    }
    ms_chap_error(ident, MsChapErrorCode::AuthenticationFailure, &challenge)
        .map(|attribute| vec![attribute])
        .unwrap_or_default()
}
