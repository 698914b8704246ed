//! The request handler that joins the rooms: an authenticated RADIUS request comes in from
//! `radius`, `authz` decides it against AD, the decision becomes a durable audit record, and only
//! then does the reply go back. If the record cannot be written the answer is Reject, whatever
//! AD said (fail closed). Reasons go to the record and the log, never onto the wire.
//!
//! Password logins (PAP) are decided here; certificate logins (EAP-TLS) by `eap_tls`, which
//! returns the same kind of decision. Two more duties sit here because they join the same rooms:
//! brute-force throttling (checked before AD is asked, fed by AD's answers) and accounting,
//! whose records are linked to the decision that admitted the session through the Class
//! attribute of the Access-Accept. An accept also carries the attributes `[[policy.reply]]`
//! gives the user's groups, and its record lists them.

mod accept_attributes;
mod metrics;
mod state_metrics;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use adgate_authz::{Authorizer, Decision, Outcome, Reason, ReplyAttributes};
use adgate_radius::{
    AccessRequest, AccountingReply, AccountingRequest, AccountingStatus, Credential, Discard,
    Reply, ReplyAttribute, RequestHandler,
};

use crate::audit::{
    AccountRecord, AccountingRecord, AuditTrail, CertificateRecord, NasRecord, Record, ReplyRecord,
    UserName, Verdict,
};
use crate::eap_tls::{EapAnswer, EapTlsLogins};
use crate::sessions::LiveSessions;
use crate::throttle::{Throttle, ThrottleKey, ThrottleSettings};
use accept_attributes::{accept_naming, decision_named, group_attributes};
pub(crate) use metrics::GatekeeperMetrics;
use metrics::RequestLabels;
pub(crate) use state_metrics::GatekeeperState;

/// Reason code of a login refused by the throttle, without asking AD.
const THROTTLED: &str = "throttled";

/// Reason code of an accept refused because its `[[policy.reply]]` attributes could not be
/// encoded (the config checks make this a bug, not a setting).
const REPLY_UNENCODABLE: &str = "reply_unencodable";

pub struct Gatekeeper {
    authorizer: Authorizer,
    trail: AuditTrail,
    throttle: Throttle,
    eap_tls: Option<EapTlsLogins>,
    metrics: Arc<GatekeeperMetrics>,
    /// Accepts and accounting feed the live session table.
    sessions: Arc<LiveSessions>,
}

/// A decision on a request, before it is recorded and answered.
pub(crate) struct Decided {
    pub(crate) method: &'static str,
    pub(crate) verdict: Verdict,
    pub(crate) reason: Option<&'static str>,
    pub(crate) account: Option<AccountRecord>,
    pub(crate) certificate: Option<CertificateRecord>,
    /// What an Access-Accept carries for the login method (EAP-Success, MS-MPPE keys).
    pub(crate) accept_attributes: Vec<ReplyAttribute>,
    /// What an Access-Reject carries (EAP-Failure); never a reason.
    pub(crate) reject_attributes: Vec<ReplyAttribute>,
    /// For an EAP-TLS refusal during the handshake: the Access-Challenge carrying the TLS alert
    /// (RFC 5216 §2.1.3), sent instead of the Access-Reject, which answers the peer's
    /// acknowledgement. The refusal is recorded before the alert goes out.
    pub(crate) alert_challenge: Option<Reply>,
    /// The user's per-group attributes, for an accept.
    pub(crate) reply: ReplyAttributes,
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
            alert_challenge: None,
            reply: ReplyAttributes::default(),
        }
    }

    /// Adds the per-group attributes to an accept. One that cannot be encoded turns the accept
    /// into a reject: the user never gets in without the filter or limit meant for them.
    fn with_group_attributes(mut self) -> Decided {
        if self.verdict != Verdict::Accept {
            return self;
        }
        match group_attributes(&self.reply) {
            Ok(attributes) => self.accept_attributes.extend(attributes),
            Err(error) => {
                tracing::error!(%error, reply = ?self.reply, "reply attributes cannot be encoded");
                self.verdict = Verdict::Reject;
                self.reason = Some(REPLY_UNENCODABLE);
                self.reply = ReplyAttributes::default();
            }
        }
        self
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
    pub fn new(
        authorizer: Authorizer,
        trail: AuditTrail,
        throttle: Throttle,
        sessions: Arc<LiveSessions>,
    ) -> Gatekeeper {
        Gatekeeper {
            authorizer,
            trail,
            throttle,
            eap_tls: None,
            metrics: Arc::default(),
            sessions,
        }
    }

    /// The directory and policy this gatekeeper decides with (the revoker re-checks with it).
    pub(crate) fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// What the gatekeeper counts, for the metrics registry.
    pub(crate) fn metrics(&self) -> Arc<GatekeeperMetrics> {
        self.metrics.clone()
    }

    /// The gatekeeper for a reloaded configuration: a new directory and policy, throttle limits
    /// and certificate settings, over what outlives a configuration — the trail, the throttle's
    /// failure counts, EAP conversations in progress and the metrics.
    pub fn successor(
        &self,
        authorizer: Authorizer,
        throttle: ThrottleSettings,
        eap_tls: Option<EapTlsLogins>,
    ) -> Gatekeeper {
        Gatekeeper {
            authorizer,
            trail: self.trail.clone(),
            throttle: self.throttle.reconfigured(throttle),
            eap_tls: eap_tls.map(|new| match &self.eap_tls {
                Some(previous) => new.continuing(previous),
                None => new,
            }),
            metrics: self.metrics.clone(),
            sessions: self.sessions.clone(),
        }
    }

    /// Turns certificate logins on.
    pub fn with_eap_tls(mut self, eap_tls: EapTlsLogins) -> Gatekeeper {
        self.eap_tls = Some(eap_tls);
        self
    }

    /// Decides a request; `Err` is a reply not recorded: an Access-Challenge that carries an EAP
    /// conversation on, or the EAP-Failure after a TLS alert whose refusal was recorded.
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
                let (verdict, reason, outcome) = self
                    .check_password(request, user_name, password.expose())
                    .await;
                let mut decided = Decided::without_attributes("pap", verdict, reason);
                if let Some(outcome) = outcome {
                    decided.account = outcome.account.as_ref().map(AccountRecord::from);
                    decided.reply = outcome.reply;
                }
                Ok(decided.with_group_attributes())
            }
            (
                Credential::Eap {
                    message,
                    state,
                    framed_mtu,
                },
                Some(eap_tls),
            ) => {
                let answer = eap_tls
                    .handle(
                        request,
                        message,
                        state.as_deref(),
                        *framed_mtu,
                        &self.authorizer,
                    )
                    .await;
                match answer {
                    EapAnswer::Challenge(reply) | EapAnswer::Ended(reply) => Err(reply),
                    EapAnswer::Decided(decided) => Ok(decided.with_group_attributes()),
                }
            }
            // CHAP and MS-CHAP cannot be checked against AD without reversible passwords, which
            // the telework policy does not allow; EAP needs an [eap_tls] section.
            (Credential::Eap { .. }, None) | (Credential::Unsupported, _) => Ok(unsupported()),
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
        let asked = Instant::now();
        let outcome = self.authorizer.check_password(user_name, password).await;
        self.metrics.time_directory(asked);
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
        let started = Instant::now();
        let counted = |verdict| RequestLabels {
            client: request.client.name.clone(),
            packet: "access_request",
            verdict,
        };
        let user_name = request.user_name.as_deref().unwrap_or_default();
        let mut decided = match self.decide(&request).await {
            Ok(decided) => decided,
            Err(unrecorded) => {
                let verdict = match unrecorded {
                    Reply::Challenge { .. } => "challenge",
                    _ => "reject",
                };
                self.metrics.count_request(counted(verdict));
                self.metrics.time_access_request(started);
                return unrecorded;
            }
        };
        let (method, verdict, reason) = (decided.method, decided.verdict, decided.reason);

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
        record.account = decided.account.clone();
        record.certificate = decided.certificate.clone();
        record.reply = ReplyRecord::of(&decided.reply);
        record.message_authenticator = Some(request.message_authenticator);

        if let Err(error) = self.append(&record).await {
            tracing::error!(
                request_id = %record.request_id,
                client = %request.client.name,
                user = %String::from_utf8_lossy(user_name),
                verdict = "reject",
                reason = "audit_unavailable",
                %error,
                "decision not recorded; rejecting"
            );
            self.metrics.count_reject("audit_unavailable");
            self.metrics.count_request(counted("reject"));
            self.metrics.time_access_request(started);
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
        if let (Verdict::Accept, Some(account)) = (verdict, &record.account) {
            self.sessions
                .accepted(&request, &record.request_id, account)
                .await;
        }
        let reply = match verdict {
            Verdict::Accept => accept_naming(
                &record.request_id,
                decided.reply.class_suffix.as_deref(),
                decided.accept_attributes,
            ),
            Verdict::Reject | Verdict::Discard | Verdict::Recorded => {
                match decided.alert_challenge.take() {
                    Some(alert) => alert,
                    None => decided.reject_reply(),
                }
            }
        };
        let counted_verdict = match reply {
            Reply::Accept { .. } => "accept",
            Reply::Challenge { .. } => "challenge",
            _ => "reject",
        };
        if let (false, Some(reason)) = (counted_verdict == "accept", reason) {
            self.metrics.count_reject(reason);
        }
        self.metrics.count_request(counted(counted_verdict));
        self.metrics.time_access_request(started);
        reply
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
        let status_type = status_type(request.status);
        let class_decision = request
            .classes
            .iter()
            .find_map(|class| decision_named(class));
        // Which AD account the session is: by its Class, else by client and User-Name.
        let linked = self.sessions.link(&request, class_decision.as_deref());
        record.account = linked.as_ref().map(|(account, _)| account.clone());
        record.accounting = Some(AccountingRecord {
            status_type: status_type.clone(),
            session_id: request.session_id.clone(),
            framed_ip_address: request.framed_ip_address,
            session_time: request.session_time,
            input_octets: request.input_octets,
            output_octets: request.output_octets,
            terminate_cause: request.terminate_cause,
            delay_time: request.delay_time,
            decision_request_id: class_decision,
        });
        let counted = |verdict| RequestLabels {
            client: request.client.name.clone(),
            packet: "accounting_request",
            verdict,
        };
        // RFC 2866 §4.1: answered only once recorded; silence makes the NAS retransmit.
        if let Err(error) = self.append(&record).await {
            self.metrics.count_request(counted("not_recorded"));
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
        self.metrics.count_request(counted("recorded"));
        let (account, decision) = linked.unzip();
        self.sessions.accounting(&request, account, decision).await;
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
        if let Err(error) = self.append(&record).await {
            tracing::error!(%error, "discard not recorded");
        }
    }
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
