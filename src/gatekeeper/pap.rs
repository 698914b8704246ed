//! Password logins (PAP): the password goes to AD unless the brute-force throttle forbids
//! asking, and AD's answer feeds the throttle — a bad password counts against the user (under
//! every name form, and the AD account's own) and the Calling-Station-Id; a success forgives
//! the user.

use std::time::Instant;

use adgate_authz::Decision;
use adgate_radius::AccessRequest;

use super::Gatekeeper;
use crate::audit::AccountRecord;
use crate::decision::{Accept, Decided, Login, Method, Reject};
use crate::reason::Reason;
use crate::throttle::ThrottleKey;

impl Gatekeeper {
    /// Decides a PAP login with `password`.
    pub(super) async fn check_password(&self, request: &AccessRequest, password: &[u8]) -> Decided {
        let user_name = request.user_name.as_deref().unwrap_or_default();
        let user = ThrottleKey::user(user_name);
        let mut keys = vec![user.clone()];
        keys.extend(
            request
                .calling_station_id
                .clone()
                .map(ThrottleKey::CallingStation),
        );
        if self.throttle.is_throttled(&keys, Instant::now()) {
            return Decided::Reject(Reject::bare(Login::by(Method::Pap), Reason::Throttled));
        }
        let asked = Instant::now();
        let outcome = self.authorizer.check_password(user_name, password).await;
        self.metrics.time_directory(asked);
        let login = Login {
            method: Method::Pap,
            account: outcome.account.as_ref().map(AccountRecord::from),
            certificate: None,
        };
        match outcome.decision {
            Decision::Accept => {
                self.throttle.record_success(&user);
                Decided::Accept(Accept {
                    login,
                    attributes: Vec::new(),
                    reject_attributes: Vec::new(),
                    reply: outcome.reply,
                })
            }
            Decision::Reject(reason) => {
                let reason = Reason::from(reason);
                if reason == Reason::BadPassword {
                    // Count under the AD account's own name too, so `heidi.jones@…` and
                    // `heidi` share a budget.
                    let account = outcome
                        .account
                        .as_ref()
                        .map(|account| ThrottleKey::user(account.sam_account_name.as_bytes()));
                    keys.extend(account.filter(|account| *account != user));
                    self.throttle.record_failure(&keys, Instant::now());
                }
                Decided::Reject(Reject::bare(login, reason))
            }
        }
    }
}
