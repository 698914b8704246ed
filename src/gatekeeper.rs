//! The request handler that joins the rooms: an authenticated RADIUS request comes in from
//! `radius`, `authz` decides it against AD, the decision becomes a durable audit record, and only
//! then does the reply go back. If the record cannot be written the answer is Reject, whatever
//! AD said (fail closed). Reasons go to the record and the log, never onto the wire.

use adgate_authz::{Authorizer, Decision, Reason};
use adgate_radius::{AccessRequest, Credential, Discard, Reply, ReplyAttribute, RequestHandler};

use crate::audit::{
    AccountRecord, AuditTrail, CertificateRecord, NasRecord, Record, UserName, Verdict,
};
use crate::eap_tls::{EapAnswer, EapTlsLogins};

pub struct Gatekeeper {
    authorizer: Authorizer,
    trail: AuditTrail,
    eap_tls: Option<EapTlsLogins>,
}

/// A decision on a request, before it is recorded and answered.
pub(crate) struct Decided {
    pub(crate) method: &'static str,
    pub(crate) verdict: Verdict,
    pub(crate) reason: Option<&'static str>,
    pub(crate) account: Option<AccountRecord>,
    pub(crate) certificate: Option<CertificateRecord>,
    /// What an Access-Accept carries (EAP-Success, MS-MPPE keys).
    pub(crate) accept_attributes: Vec<ReplyAttribute>,
    /// What an Access-Reject carries (EAP-Failure); never a reason.
    pub(crate) reject_attributes: Vec<ReplyAttribute>,
}

impl Decided {
    fn without_attributes(
        method: &'static str,
        verdict: Verdict,
        reason: Option<&'static str>,
    ) -> Decided {
        Decided {
            method,
            verdict,
            reason,
            account: None,
            certificate: None,
            accept_attributes: Vec::new(),
            reject_attributes: Vec::new(),
        }
    }

    fn reject_reply(&self) -> Reply {
        match self.reject_attributes.as_slice() {
            [] => Reply::Reject,
            attributes => Reply::RejectWith {
                attributes: attributes.to_vec(),
            },
        }
    }
}

impl Gatekeeper {
    pub fn new(authorizer: Authorizer, trail: AuditTrail) -> Gatekeeper {
        Gatekeeper {
            authorizer,
            trail,
            eap_tls: None,
        }
    }

    /// Serves certificate logins too.
    pub fn with_eap_tls(mut self, eap_tls: EapTlsLogins) -> Gatekeeper {
        self.eap_tls = Some(eap_tls);
        self
    }

    async fn decide(&self, request: &AccessRequest) -> Result<Decided, Reply> {
        let user_name = request.user_name.as_deref().unwrap_or_default();
        let unsupported = || {
            Decided::without_attributes(
                "unsupported",
                Verdict::Reject,
                Some(Reason::UnsupportedCredential.as_str()),
            )
        };
        match (&request.credential, &self.eap_tls) {
            (Credential::Pap(password), _) => {
                let outcome = self
                    .authorizer
                    .check_password(user_name, password.expose())
                    .await;
                let (verdict, reason) = match outcome.decision {
                    Decision::Accept => (Verdict::Accept, None),
                    Decision::Reject(reason) => (Verdict::Reject, Some(reason.as_str())),
                };
                let mut decided = Decided::without_attributes("pap", verdict, reason);
                decided.account = outcome.account.as_ref().map(AccountRecord::from);
                Ok(decided)
            }
            (
                Credential::Eap {
                    packet,
                    state,
                    framed_mtu,
                },
                Some(eap_tls),
            ) => {
                let answer = eap_tls
                    .handle(
                        request,
                        packet,
                        state.as_deref(),
                        *framed_mtu,
                        &self.authorizer,
                    )
                    .await;
                match answer {
                    EapAnswer::Challenge(reply) => Err(reply),
                    EapAnswer::Decided(decided) => Ok(*decided),
                }
            }
            // CHAP and MS-CHAP cannot be checked against AD without reversible passwords, which
            // the telework policy does not allow; EAP needs an [eap_tls] section.
            (Credential::Eap { .. }, None) | (Credential::Unsupported, _) => Ok(unsupported()),
        }
    }
}

impl RequestHandler for Gatekeeper {
    async fn access_request(&self, request: AccessRequest) -> Reply {
        let user_name = request.user_name.as_deref().unwrap_or_default();
        let decided = match self.decide(&request).await {
            Ok(decided) => decided,
            Err(challenge) => return challenge,
        };
        let (method, verdict, reason) = (decided.method, decided.verdict, decided.reason);

        let mut record = Record::new(nas_record(&request), verdict);
        record.radius_identifier = Some(request.identifier);
        record.user_name = Some(UserName::from_bytes(user_name));
        record.calling_station_id = request.calling_station_id.clone();
        record.method = Some(method);
        record.reason = reason;
        record.account = decided.account.clone();
        record.certificate = decided.certificate.clone();
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
            return decided.reject_reply();
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
                attributes: decided.accept_attributes,
            },
            Verdict::Reject | Verdict::Discard => decided.reject_reply(),
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
