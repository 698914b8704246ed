//! The MS-CHAPv2 login step shared by all three methods (see `mschapv2.rs`): from what the
//! peer sent to an accept carrying `S=` and the MPPE keys, or a refusal with its reason.

use std::time::Instant;

use adgate_authz::{AccountDirectory, Authorizer, Decision, ReplyAttributes, Winbind};
use adgate_radius::mschapv2::{
    authenticator_response, challenge_hash, mppe_keys, name_without_domain, Challenge16, MppeKeys,
    NtResponse,
};
use adgate_radius::{AccessRequest, ReplyAttribute};

use crate::audit::AccountRecord;
use crate::decision::{Accept, Login, Method, Reject};
use crate::reason::Reason;
use crate::throttle::Throttle;

/// What the peer sent: its name and its half of the exchange (RFC 2759 §4), and the
/// authenticator challenge it answered.
pub(crate) struct MsChapV2Response<'a> {
    /// The name as the peer sent it (User-Name, or the EAP identity / MS-CHAPv2 Name):
    /// `alice`, `CORP\alice`, or a UPN. The account is found from it as for PAP; the
    /// ChallengeHash uses it without a `DOMAIN\` prefix (RFC 2759 §8.2).
    pub(crate) user_name: &'a [u8],
    pub(crate) authenticator_challenge: Challenge16,
    pub(crate) peer_challenge: Challenge16,
    pub(crate) nt_response: NtResponse,
}

/// An MS-CHAPv2 login decided.
pub(crate) enum MsChapV2Verdict {
    Accepted(MsChapV2Accepted),
    /// The refusal and its reason; the method adds its own attributes (MS-CHAP-Error,
    /// EAP-Failure) to `attributes`.
    Refused(Reject),
}

/// An accepted MS-CHAPv2 login: what the method needs to answer it.
pub(crate) struct MsChapV2Accepted {
    pub(crate) login: Login,
    /// The user's `[[policy.reply]]` attributes.
    pub(crate) reply: ReplyAttributes,
    /// `S=` and 40 uppercase hex digits (RFC 2759 §8.7), for MS-CHAP2-Success or the
    /// EAP-MSCHAPv2 Success-Request.
    pub(crate) authenticator_response: String,
    /// The server's MPPE send and receive keys (RFC 3079 §3.4): MS-MPPE-Send/Recv-Key, or
    /// the EAP-MSCHAPv2 MSK.
    pub(crate) keys: MppeKeys,
}

impl MsChapV2Accepted {
    /// The accept to record and send, carrying `attributes`; `reject_attributes` is what the
    /// Access-Reject carries should it be refused after all (the trail cannot be written).
    pub(crate) fn into_accept(
        self,
        attributes: Vec<ReplyAttribute>,
        reject_attributes: Vec<ReplyAttribute>,
    ) -> Accept {
        Accept {
            login: self.login,
            attributes,
            reject_attributes,
            reply: self.reply,
        }
    }
}

/// What an MS-CHAPv2 login is decided with; borrowed from the gatekeeper
/// ([`Gatekeeper::mschapv2`](crate::gatekeeper::Gatekeeper)) for one request.
pub(crate) struct MsChapV2Step<'a, D> {
    pub(crate) authorizer: &'a Authorizer<D>,
    pub(crate) winbind: &'a Winbind,
    pub(crate) throttle: &'a Throttle,
}

impl<D: AccountDirectory> MsChapV2Step<'_, D> {
    /// Decides the login `response` of `request`, recorded as `method`. As for PAP: a throttled
    /// login asks nobody, a bad password counts against the throttle's budgets, an accept
    /// forgives the budget that judged it.
    pub(crate) async fn decide(
        &self,
        request: &AccessRequest,
        method: Method,
        response: &MsChapV2Response<'_>,
    ) -> MsChapV2Verdict {
        let attempt = self.throttle.attempt(
            response.user_name,
            request.calling_station_id.as_deref(),
            chrono::Utc::now(),
        );
        if let Some(rule) = self.throttle.refusing(&attempt, Instant::now()) {
            return MsChapV2Verdict::Refused(Reject::throttled(method, rule));
        }
        let hashed_name = name_without_domain(response.user_name);
        let challenge = challenge_hash(
            &response.peer_challenge,
            &response.authenticator_challenge,
            hashed_name,
        );
        let checked = self
            .authorizer
            .check_nt_response(
                response.user_name,
                self.winbind,
                challenge,
                response.nt_response,
            )
            .await;
        let outcome = checked.outcome;
        let attempt = match &outcome.account {
            Some(account) => attempt.with_account(&account.sam_account_name),
            None => attempt,
        };
        let login = Login {
            method,
            account: outcome.account.as_ref().map(AccountRecord::from),
            certificate: None,
            inner_identity: None,
        };
        match (outcome.decision, checked.password_hash_hash) {
            (Decision::Accept, Some(hash_hash)) => {
                self.throttle.got_in(&attempt);
                MsChapV2Verdict::Accepted(MsChapV2Accepted {
                    login,
                    reply: outcome.reply,
                    authenticator_response: authenticator_response(
                        &hash_hash,
                        &response.nt_response,
                        &response.peer_challenge,
                        &response.authenticator_challenge,
                        hashed_name,
                    ),
                    keys: mppe_keys(&hash_hash, &response.nt_response),
                })
            }
            // authz never accepts without the key; should it, the login fails closed.
            (Decision::Accept, None) => {
                MsChapV2Verdict::Refused(Reject::bare(login, Reason::DirectoryUnavailable))
            }
            (Decision::Reject(reason), _) => {
                let reason = Reason::from(reason);
                if reason == Reason::BadPassword {
                    self.throttle.bad_password(&attempt, Instant::now());
                }
                MsChapV2Verdict::Refused(Reject::bare(login, reason))
            }
        }
    }
}
