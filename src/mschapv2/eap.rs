//! The shared login step as the EAP methods (EAP-MSCHAPv2, PEAP's inner method) ask it: an
//! attempt (name, challenges, NT-Response) goes in; out comes the account accepted with its
//! reply attributes, `S=` and the MPPE keys, or a refusal with its reason. The EAP engine asks
//! through [`MsChapV2Login`], so that its tests can answer without a domain controller; the
//! gatekeeper answers with [`MsChapV2Step::decide`].

use std::future::Future;

use adgate_authz::{AccountDirectory, ReplyAttributes};
use adgate_radius::eap_mschapv2::Attempt;
use adgate_radius::mschapv2::MppeKeys;
use adgate_radius::AccessRequest;

use super::{MsChapV2Response, MsChapV2Verdict};
use crate::audit::AccountRecord;
use crate::decision::{Login, Method};
use crate::gatekeeper::Gatekeeper;
use crate::reason::Reason;
use crate::throttle::ThrottleRule;

/// The answer of the MS-CHAPv2 login step, as EAP needs it.
pub(crate) enum MsChapV2Outcome {
    /// The NT-Response is right and the policy lets the account in.
    Accepted {
        account: Option<AccountRecord>,
        reply: ReplyAttributes,
        /// `S=…` (RFC 2759 §8.7), for the Success-Request.
        authenticator_response: String,
        /// The server's MPPE keys (RFC 3079 §3.4).
        keys: MppeKeys,
    },
    Refused {
        reason: Reason,
        /// The account, if the name found one.
        account: Option<AccountRecord>,
        /// For [`Reason::Throttled`]: which budget was spent.
        throttled_by: Option<ThrottleRule>,
    },
}

/// Who checks an MS-CHAPv2 attempt.
pub(crate) trait MsChapV2Login: Sync {
    /// Checks `attempt`, made in `request` with `method` (which the throttle and records name).
    fn check_mschapv2(
        &self,
        request: &AccessRequest,
        method: Method,
        attempt: &Attempt,
    ) -> impl Future<Output = MsChapV2Outcome> + Send;
}

impl<D: AccountDirectory> MsChapV2Login for Gatekeeper<D> {
    async fn check_mschapv2(
        &self,
        request: &AccessRequest,
        method: Method,
        attempt: &Attempt,
    ) -> MsChapV2Outcome {
        // `[eap] methods` lists no MS-CHAPv2 method without `[mschapv2]`; should one be asked
        // anyway, it is refused as for RADIUS MS-CHAPv2 without `[mschapv2]`.
        let Some(step) = self.mschapv2() else {
            return MsChapV2Outcome::Refused {
                reason: Reason::UnsupportedCredential,
                account: None,
                throttled_by: None,
            };
        };
        let response = MsChapV2Response {
            user_name: &attempt.user_name,
            authenticator_challenge: attempt.authenticator_challenge,
            peer_challenge: attempt.peer_challenge,
            nt_response: attempt.nt_response,
        };
        match step.decide(request, method, &response).await {
            MsChapV2Verdict::Accepted(accepted) => MsChapV2Outcome::Accepted {
                account: accepted.login.account,
                reply: accepted.reply,
                authenticator_response: accepted.authenticator_response,
                keys: accepted.keys,
            },
            MsChapV2Verdict::Refused(reject) => {
                let Login { account, .. } = reject.login;
                MsChapV2Outcome::Refused {
                    reason: reject.reason,
                    account,
                    throttled_by: reject.throttled_by,
                }
            }
        }
    }
}
