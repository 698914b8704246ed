//! The MS-CHAPv2 login step as the EAP methods (EAP-MSCHAPv2, PEAP) call it: an attempt
//! (name, challenges, NT-Response) goes in; out comes the account accepted with its reply
//! attributes and the hash of the password hash, or a refusal with its reason. Finding the
//! account, `authz::decide` before the domain controller is asked (no lockout count burnt for
//! a refused account), the throttle and winbind all happen behind it; the EAP code only frames.
//! What the peer is told of a refusal is the MS-CHAP error code of its reason.

use std::future::Future;

use adgate_authz::ReplyAttributes;
use adgate_radius::eap_mschapv2::{Attempt, MsChapError};
use adgate_radius::mschapv2::MppeKeys;
use adgate_radius::AccessRequest;

use crate::audit::AccountRecord;
use crate::reason::Reason;
use crate::throttle::ThrottleRule;

/// The answer of the MS-CHAPv2 login step.
// Accepted only once the winbind verifier is wired in (and by the tests' fake until then).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum MsChapV2Outcome {
    /// The NT-Response is right and the policy lets the account in.
    Accepted {
        account: AccountRecord,
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
    /// Checks `attempt`, made in `request`.
    fn check_mschapv2(
        &self,
        request: &AccessRequest,
        attempt: &Attempt,
    ) -> impl Future<Output = MsChapV2Outcome> + Send;
}

/// The MS-CHAP error code a refusal for `reason` is told as (RFC 2759 §6): the account states
/// Windows explains to its user get their own code, everything else is 691.
pub(crate) fn ms_chap_error(reason: Reason) -> MsChapError {
    match reason {
        Reason::LogonRestricted => MsChapError::RestrictedLogonHours,
        Reason::AccountDisabled => MsChapError::AccountDisabled,
        Reason::PasswordExpired | Reason::MustChangePassword => MsChapError::PasswordExpired,
        Reason::DialinDenied => MsChapError::NoDialinPermission,
        _ => MsChapError::AuthenticationFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_states_get_their_own_error_code_the_rest_691() {
        for (reason, code) in [
            (Reason::LogonRestricted, 646),
            (Reason::AccountDisabled, 647),
            (Reason::PasswordExpired, 648),
            (Reason::MustChangePassword, 648),
            (Reason::DialinDenied, 649),
            (Reason::BadPassword, 691),
            (Reason::UnknownUser, 691),
            (Reason::TeleworkOff, 691),
            (Reason::AccountLocked, 691),
            (Reason::DirectoryUnavailable, 691),
        ] {
            assert_eq!(ms_chap_error(reason).code(), code, "{reason}");
        }
    }
}
