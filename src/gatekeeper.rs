//! The request handler that joins the rooms: an authenticated RADIUS request comes in from
//! `radius`, `authz` decides it against AD, the decision becomes a durable audit record, and only
//! then does the reply go back. If the record cannot be written the answer is Reject, whatever
//! AD said (fail closed). Reasons go to the record and the log, never onto the wire.

use adgate_authz::{Authorizer, Decision, Outcome, Reason};
use adgate_radius::{AccessRequest, Credential, Discard, Reply, RequestHandler};

use crate::audit::{AccountRecord, AuditTrail, NasRecord, Record, UserName, Verdict};

pub struct Gatekeeper {
    authorizer: Authorizer,
    trail: AuditTrail,
}

impl Gatekeeper {
    pub fn new(authorizer: Authorizer, trail: AuditTrail) -> Gatekeeper {
        Gatekeeper { authorizer, trail }
    }
}

impl RequestHandler for Gatekeeper {
    async fn access_request(&self, request: AccessRequest) -> Reply {
        let user_name = request.user_name.as_deref().unwrap_or_default();
        let (method, verdict, reason, outcome) = match &request.credential {
            Credential::Pap(password) => {
                let outcome = self
                    .authorizer
                    .check_password(user_name, password.expose())
                    .await;
                let (verdict, reason) = match outcome.decision {
                    Decision::Accept => (Verdict::Accept, None),
                    Decision::Reject(reason) => (Verdict::Reject, Some(reason.as_str())),
                };
                ("pap", verdict, reason, Some(outcome))
            }
            // CHAP and MS-CHAP cannot be checked against AD without reversible passwords, which
            // the telework policy does not allow; EAP arrives with the EAP-TLS issue.
            Credential::Unsupported => (
                "unsupported",
                Verdict::Reject,
                Some(Reason::UnsupportedCredential.as_str()),
                None,
            ),
        };
        let account = outcome
            .as_ref()
            .and_then(|o: &Outcome| o.account.as_ref())
            .map(AccountRecord::from);

        let mut record = Record::new(nas_record(&request), verdict);
        record.radius_identifier = Some(request.identifier);
        record.user_name = Some(UserName::from_bytes(user_name));
        record.calling_station_id = request.calling_station_id.clone();
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
            Verdict::Accept => Reply::Accept {
                attributes: Vec::new(),
            },
            Verdict::Reject | Verdict::Discard => Reply::Reject,
        }
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
        tracing::debug!(
            request_id = %record.request_id,
            source = %discard.source,
            reason = discard.reason.as_str(),
            "request discarded"
        );
        if let Err(error) = self.trail.append(&record).await {
            tracing::error!(%error, "discard not recorded");
        }
    }
}

fn nas_record(request: &AccessRequest) -> NasRecord {
    NasRecord {
        name: Some(request.client.name.clone()),
        address: request.source,
        nas_identifier: request.nas_identifier.clone(),
        nas_ip_address: request.nas_ip_address,
    }
}
