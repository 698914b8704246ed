//! The request handler that joins the rooms: an authenticated RADIUS request comes in from
//! `radius`, `authz` decides it against AD, the decision becomes a durable audit record, and only
//! then does the reply go back. If the record cannot be written the answer is Reject, whatever
//! AD said (fail closed). Reasons go to the record and the log, never onto the wire.
//!
//! Two more duties sit here because they join the same rooms: brute-force throttling (checked
//! before AD is asked, fed by AD's answers) and accounting, whose records are linked to the
//! decision that admitted the session through the Class attribute of the Access-Accept.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use adgate_authz::{Authorizer, Decision, Outcome, Reason};
use adgate_radius::{
    AccessRequest, AccountingReply, AccountingRequest, AccountingStatus, Credential, Discard,
    Reply, ReplyAttribute, RequestHandler,
};

use crate::audit::{
    AccountRecord, AccountingRecord, AuditTrail, NasRecord, Record, UserName, Verdict,
};
use crate::throttle::{Throttle, ThrottleKey};

/// What adgate's Class attributes start with; the decision's `request_id` follows.
const CLASS_PREFIX: &str = "adgate:";

/// Reason code of a login refused by the throttle, without asking AD.
const THROTTLED: &str = "throttled";

pub struct Gatekeeper {
    authorizer: Authorizer,
    trail: AuditTrail,
    throttle: Throttle,
}

impl Gatekeeper {
    pub fn new(authorizer: Authorizer, trail: AuditTrail, throttle: Throttle) -> Gatekeeper {
        Gatekeeper {
            authorizer,
            trail,
            throttle,
        }
    }

    /// Checks a PAP password against AD unless the throttle forbids asking, and feeds AD's
    /// answer back into the throttle.
    async fn check_password(
        &self,
        request: &AccessRequest,
        user_name: &[u8],
        password: &[u8],
    ) -> (Verdict, Option<&'static str>, Option<Outcome>) {
        let user = ThrottleKey::user(user_name);
        let mut keys = vec![user.clone()];
        keys.extend(
            request
                .calling_station_id
                .clone()
                .map(ThrottleKey::CallingStation),
        );
        if self.throttle.is_throttled(&keys, Instant::now()) {
            return (Verdict::Reject, Some(THROTTLED), None);
        }
        let outcome = self.authorizer.check_password(user_name, password).await;
        match outcome.decision {
            Decision::Accept => {
                self.throttle.record_success(&user);
                (Verdict::Accept, None, Some(outcome))
            }
            Decision::Reject(reason) => {
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
                (Verdict::Reject, Some(reason.as_str()), Some(outcome))
            }
        }
    }
}

impl RequestHandler for Gatekeeper {
    async fn access_request(&self, request: AccessRequest) -> Reply {
        let user_name = request.user_name.as_deref().unwrap_or_default();
        let (method, (verdict, reason, outcome)) = match &request.credential {
            Credential::Pap(password) => (
                "pap",
                self.check_password(&request, user_name, password.expose())
                    .await,
            ),
            // CHAP and MS-CHAP cannot be checked against AD without reversible passwords, which
            // the telework policy does not allow; EAP arrives with the EAP-TLS issue.
            Credential::Unsupported => (
                "unsupported",
                (
                    Verdict::Reject,
                    Some(Reason::UnsupportedCredential.as_str()),
                    None,
                ),
            ),
        };
        let account = outcome
            .as_ref()
            .and_then(|o: &Outcome| o.account.as_ref())
            .map(AccountRecord::from);

        let mut record = Origin {
            client: &request.client.name,
            source: request.source,
            identifier: request.identifier,
            nas_identifier: &request.nas_identifier,
            nas_ip_address: request.nas_ip_address,
            user_name: Some(user_name),
            calling_station_id: &request.calling_station_id,
        }
        .record(verdict);
        record.method = Some(method);
        record.reason = reason;
        record.account = account;
        record.message_authenticator = Some(request.message_authenticator);

        if let Err(error) = self.trail.append(&record).await {
            tracing::error!(
                request_id = %record.request_id,
                client = %request.client.name,
                user = %String::from_utf8_lossy(user_name),
                verdict = "reject",
                reason = "audit_unavailable",
                %error,
                "decision not recorded; rejecting"
            );
            return Reply::Reject;
        }
        tracing::info!(
            request_id = %record.request_id,
            client = %request.client.name,
            user = %String::from_utf8_lossy(user_name),
            method,
            verdict = ?verdict,
            reason = reason.unwrap_or("-"),
            dn = record.account.as_ref().map(|a| a.dn.as_str()).unwrap_or("-"),
            "access decision"
        );
        match verdict {
            Verdict::Accept => accept_naming(&record.request_id),
            Verdict::Reject | Verdict::Discard | Verdict::Recorded => Reply::Reject,
        }
    }

    async fn accounting_request(&self, request: AccountingRequest) -> AccountingReply {
        let mut record = Origin {
            client: &request.client.name,
            source: request.source,
            identifier: request.identifier,
            nas_identifier: &request.nas_identifier,
            nas_ip_address: request.nas_ip_address,
            user_name: request.user_name.as_deref(),
            calling_station_id: &request.calling_station_id,
        }
        .record(Verdict::Recorded);
        record.kind = "accounting";
        let status_type = status_type(request.status);
        record.accounting = Some(AccountingRecord {
            status_type: status_type.clone(),
            session_id: request.session_id.clone(),
            framed_ip_address: request.framed_ip_address,
            session_time: request.session_time,
            input_octets: request.input_octets,
            output_octets: request.output_octets,
            terminate_cause: request.terminate_cause,
            delay_time: request.delay_time,
            decision_request_id: request
                .classes
                .iter()
                .find_map(|class| decision_named(class)),
        });
        // RFC 2866 §4.1: answered only once recorded; silence makes the NAS retransmit.
        if let Err(error) = self.trail.append(&record).await {
            tracing::error!(
                request_id = %record.request_id,
                client = %request.client.name,
                %error,
                "accounting request not recorded; not answering so the NAS retries"
            );
            return AccountingReply::NotRecorded;
        }
        tracing::info!(
            request_id = %record.request_id,
            client = %request.client.name,
            status_type,
            session_id = request.session_id.as_deref().unwrap_or("-"),
            "accounting recorded"
        );
        AccountingReply::Recorded
    }

    async fn discarded(&self, discard: Discard) {
        let mut record = Record::new(
            NasRecord {
                name: discard.client.clone(),
                address: discard.source,
                nas_identifier: None,
                nas_ip_address: None,
            },
            Verdict::Discard,
        );
        record.radius_identifier = discard.identifier;
        record.user_name = discard.user_name.as_deref().map(UserName::from_bytes);
        record.reason = Some(discard.reason.as_str());
        // The server logs and counts discards at a bounded rate; this only records them.
        if let Err(error) = self.trail.append(&record).await {
            tracing::error!(%error, "discard not recorded");
        }
    }
}

/// An Access-Accept whose Class (RFC 2865 §5.25) names the decision record, so the NAS's
/// accounting for the session can be joined to it.
fn accept_naming(request_id: &str) -> Reply {
    let class = ReplyAttribute::class(format!("{CLASS_PREFIX}{request_id}").into_bytes());
    Reply::Accept {
        attributes: class.into_iter().collect(),
    }
}

/// The decision `request_id` in a Class adgate wrote, if this is one.
fn decision_named(class: &[u8]) -> Option<String> {
    let id = std::str::from_utf8(class)
        .ok()?
        .strip_prefix(CLASS_PREFIX)?;
    uuid::Uuid::parse_str(id).ok().map(|id| id.to_string())
}

fn status_type(status: AccountingStatus) -> String {
    match status {
        AccountingStatus::Start => "start".to_owned(),
        AccountingStatus::Stop => "stop".to_owned(),
        AccountingStatus::InterimUpdate => "interim_update".to_owned(),
        AccountingStatus::AccountingOn => "accounting_on".to_owned(),
        AccountingStatus::AccountingOff => "accounting_off".to_owned(),
        AccountingStatus::Other(number) => number.to_string(),
    }
}

/// Where an authenticated request came from and who it names: what every record of one says.
struct Origin<'a> {
    client: &'a str,
    source: SocketAddr,
    identifier: u8,
    nas_identifier: &'a Option<String>,
    nas_ip_address: Option<IpAddr>,
    user_name: Option<&'a [u8]>,
    calling_station_id: &'a Option<String>,
}

impl Origin<'_> {
    fn record(&self, verdict: Verdict) -> Record {
        let nas = NasRecord {
            name: Some(self.client.to_owned()),
            address: self.source,
            nas_identifier: self.nas_identifier.clone(),
            nas_ip_address: self.nas_ip_address,
        };
        let mut record = Record::new(nas, verdict);
        record.radius_identifier = Some(self.identifier);
        record.user_name = self.user_name.map(UserName::from_bytes);
        record.calling_station_id = self.calling_station_id.clone();
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_written_by_adgate_names_its_decision() {
        let id = uuid::Uuid::now_v7().to_string();
        let Reply::Accept { attributes } = accept_naming(&id) else {
            panic!("an accept");
        };
        assert_eq!(attributes[0].attribute_type(), 25);
        assert_eq!(decision_named(attributes[0].value()), Some(id));
        assert_eq!(decision_named(b"adgate:not-a-uuid"), None);
        assert_eq!(decision_named(b"someone-else's class"), None);
    }
}
