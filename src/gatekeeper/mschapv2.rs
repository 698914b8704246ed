//! The gatekeeper as the EAP methods' MS-CHAPv2 login step (`mschapv2_login.rs`). Until the
//! winbind verifier is wired in, every attempt is refused as unsupported: no NT-Response is
//! accepted that no domain controller checked.

use adgate_authz::AccountDirectory;
use adgate_radius::eap_mschapv2::Attempt;
use adgate_radius::AccessRequest;

use super::Gatekeeper;
use crate::mschapv2_login::{MsChapV2Login, MsChapV2Outcome};
use crate::reason::Reason;

impl<D: AccountDirectory> MsChapV2Login for Gatekeeper<D> {
    async fn check_mschapv2(
        &self,
        _request: &AccessRequest,
        _attempt: &Attempt,
    ) -> MsChapV2Outcome {
        MsChapV2Outcome::Refused {
            reason: Reason::UnsupportedCredential,
            account: None,
            throttled_by: None,
        }
    }
}
