//! Password logins (PAP): the password goes to AD unless the brute-force throttle forbids
//! asking, and AD's answer feeds the throttle — a bad password counts against the budgets the
//! throttle charges (the user's under every name form and the AD account's own, the familiar
//! station's, the station's); a success forgives the budget that judged the login.

use std::time::Instant;

use adgate_authz::{AccountDirectory, Decision};
use adgate_radius::AccessRequest;

use super::Gatekeeper;
use crate::audit::AccountRecord;
use crate::decision::{Accept, Decided, Login, Method, Reject};
use crate::reason::Reason;

impl<D: AccountDirectory> Gatekeeper<D> {
    /// Decides a PAP login with `password`.
    pub(super) async fn check_password(&self, request: &AccessRequest, password: &[u8]) -> Decided {
        let user_name = request.user_name.as_deref().unwrap_or_default();
        let attempt = self.throttle.attempt(
            user_name,
            request.calling_station_id.as_deref(),
            chrono::Utc::now(),
        );
        if let Some(rule) = self.throttle.refusing(&attempt, Instant::now()) {
            return Decided::Reject(Reject::throttled(Method::Pap, rule));
        }
        let asked = Instant::now();
        let outcome = self.authorizer.check_password(user_name, password).await;
        self.metrics.time_directory(asked);
        let attempt = match &outcome.account {
            Some(account) => attempt.with_account(&account.sam_account_name),
            None => attempt,
        };
        let login = Login {
            method: Method::Pap,
            account: outcome.account.as_ref().map(AccountRecord::from),
            certificate: None,
            inner_identity: None,
        };
        match outcome.decision {
            Decision::Accept => {
                self.throttle.got_in(&attempt);
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
                    self.throttle.bad_password(&attempt, Instant::now());
                }
                Decided::Reject(Reject::bare(login, reason))
            }
        }
    }
}
