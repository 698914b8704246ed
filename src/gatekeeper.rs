//! The request handler that joins the rooms: an authenticated RADIUS request comes in from
//! `radius`, its login method decides it (`authz` against AD), the decision becomes a durable
//! audit record, and only then does the reply go back. If the record cannot be written the
//! answer is Reject, whatever AD said (fail closed). Reasons go to the record and the log,
//! never onto the wire.
//!
//! Password logins (PAP, with brute-force throttling) are decided in `pap.rs`; MS-CHAPv2 logins
//! by `mschapv2` (the same throttle, the NT-Response checked through winbind); certificate
//! logins (EAP-TLS) by `eap_tls`. Each hands back an [`AccessFlow`]: a decision to record, or an
//! EAP round trip that decides nothing. Accounting is recorded here too, its records linked to
//! the decision that admitted the session through the Class attribute of the Access-Accept. An
//! accept also carries the attributes `[[policy.reply]]` gives the user's groups, and its
//! record lists them.

mod accept_attributes;
mod metrics;
mod pap;
mod readiness;
mod record;
mod state_metrics;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use adgate_authz::{AccountDirectory, Authorizer, Directory, Winbind};
use adgate_radius::{
    AccessRequest, AccountingReply, AccountingRequest, AccountingStatus, Credential, Discard,
    Reply, RequestHandler,
};

use crate::audit::{AccountingRecord, AuditTrail, NasRecord, Record, UserName, Verdict};
use crate::decision::{AccessFlow, Decided, Login, Method, Reject};
use crate::eap_tls::EapTlsLogins;
use crate::mschapv2::MsChapV2Step;
use crate::reason::Reason;
use crate::sessions::LiveSessions;
use crate::throttle::{Throttle, ThrottleRule, ThrottleSettings};
use accept_attributes::{accept_naming, decision_named, with_group_attributes};
pub(crate) use metrics::GatekeeperMetrics;
use metrics::RequestLabels;
use record::{decision_record, Origin};
pub(crate) use state_metrics::GatekeeperState;

/// adgate's request handler: decides Access-Requests, records every decision and every
/// Accounting-Request before answering, and records discards. One per configuration; a reload
/// installs a [`successor`](Gatekeeper::successor). It asks AD through `D`: the LDAP
/// [`Directory`], or in unit tests an in-memory one.
pub struct Gatekeeper<D = Directory> {
    authorizer: Authorizer<D>,
    trail: AuditTrail,
    throttle: Throttle,
    eap_tls: Option<EapTlsLogins>,
    /// MS-CHAPv2 logins (`[mschapv2]`): the winbind helper pool.
    mschapv2: Option<Winbind>,
    metrics: Arc<GatekeeperMetrics>,
    /// Accepts and accounting feed the live session table.
    sessions: Arc<LiveSessions>,
}

impl<D: AccountDirectory> Gatekeeper<D> {
    pub fn new(
        authorizer: Authorizer<D>,
        trail: AuditTrail,
        throttle: Throttle,
        sessions: Arc<LiveSessions>,
    ) -> Gatekeeper<D> {
        Gatekeeper {
            authorizer,
            trail,
            throttle,
            eap_tls: None,
            mschapv2: None,
            metrics: Arc::default(),
            sessions,
        }
    }

    /// The directory and policy this gatekeeper decides with (the revoker re-checks with it).
    pub(crate) fn authorizer(&self) -> &Authorizer<D> {
        &self.authorizer
    }

    /// Finds, in the background, what the configuration left to AD (the domain controllers of
    /// `directory.domain`, the NetBIOS domain name), so that the log says it at start and after
    /// a reload; logins find it on first need anyway, so AD being down now changes nothing.
    pub(crate) fn discover_in_background(self: &Arc<Self>) {
        let gatekeeper = self.clone();
        tokio::spawn(async move { gatekeeper.authorizer.discover().await });
    }

    /// What the gatekeeper counts, for the metrics registry.
    pub(crate) fn metrics(&self) -> Arc<GatekeeperMetrics> {
        self.metrics.clone()
    }

    /// The gatekeeper for a reloaded configuration: a new directory and policy, throttle limits,
    /// certificate and MS-CHAPv2 settings, over what outlives a configuration — the trail, the
    /// throttle's failure counts and familiar stations, EAP conversations in progress, the
    /// winbind helpers when their settings did not change, and the metrics.
    pub fn successor(
        &self,
        authorizer: Authorizer<D>,
        throttle: ThrottleSettings,
        eap_tls: Option<EapTlsLogins>,
        mschapv2: Option<Winbind>,
    ) -> Gatekeeper<D> {
        Gatekeeper {
            authorizer,
            trail: self.trail.clone(),
            throttle: self.throttle.reconfigured(throttle),
            eap_tls: eap_tls.map(|new| match &self.eap_tls {
                Some(previous) => new.continuing(previous),
                None => new,
            }),
            mschapv2: mschapv2.map(|new| match &self.mschapv2 {
                Some(previous) if previous.settings() == new.settings() => previous.clone(),
                _ => new,
            }),
            metrics: self.metrics.clone(),
            sessions: self.sessions.clone(),
        }
    }

    /// Turns certificate logins on.
    pub fn with_eap_tls(mut self, eap_tls: EapTlsLogins) -> Gatekeeper<D> {
        self.eap_tls = Some(eap_tls);
        self
    }

    /// Turns MS-CHAPv2 logins on, their NT-Responses checked through `winbind`.
    pub fn with_mschapv2(mut self, winbind: Winbind) -> Gatekeeper<D> {
        self.mschapv2 = Some(winbind);
        self
    }

    /// What an MS-CHAPv2 login (RADIUS, EAP-MSCHAPv2 or PEAP) is decided with, when
    /// `[mschapv2]` is configured.
    pub(crate) fn mschapv2(&self) -> Option<MsChapV2Step<'_, D>> {
        Some(MsChapV2Step {
            authorizer: &self.authorizer,
            winbind: self.mschapv2.as_ref()?,
            throttle: &self.throttle,
        })
    }

    /// What the request's login method makes of it.
    async fn login(&self, request: &AccessRequest) -> AccessFlow {
        match (&request.credential, &self.eap_tls) {
            (Credential::Pap(password), _) => {
                AccessFlow::record(self.check_password(request, password.expose()).await)
            }
            (
                Credential::Eap {
                    message,
                    state,
                    framed_mtu,
                },
                Some(eap_tls),
            ) => {
                eap_tls
                    .handle(
                        request,
                        message,
                        state.as_deref(),
                        *framed_mtu,
                        &self.authorizer,
                        self,
                    )
                    .await
            }
            (Credential::MsChapV2(ms_chap), _) => match self.mschapv2() {
                Some(step) => AccessFlow::record(step.radius_login(request, ms_chap).await),
                None => AccessFlow::record(Decided::Reject(Reject::bare(
                    Login::by(Method::MsChapV2),
                    Reason::UnsupportedCredential,
                ))),
            },
            // CHAP and MS-CHAPv1 cannot be checked against AD without reversible passwords,
            // which the telework policy does not allow; EAP needs an [eap_tls] or [eap] section.
            (Credential::Eap { .. }, None) | (Credential::Unsupported, _) => {
                AccessFlow::record(Decided::Reject(Reject::bare(
                    Login::by(Method::Unsupported),
                    Reason::UnsupportedCredential,
                )))
            }
        }
    }

    /// Records `decided`, then answers by it; an accept gets the Class that names its record.
    /// A decision that cannot be recorded is answered with a reject.
    async fn record_and_answer(&self, request: &AccessRequest, decided: Decided) -> Reply {
        let record = decision_record(request, &decided);
        let user = String::from_utf8_lossy(request.user_name.as_deref().unwrap_or_default());
        if let Err(error) = self.append(&record).await {
            tracing::error!(
                request_id = %record.request_id,
                client = %request.client.name,
                %user,
                verdict = "reject",
                reason = Reason::AuditUnavailable.as_str(),
                %error,
                "decision not recorded; rejecting"
            );
            self.metrics.count_reject(Reason::AuditUnavailable);
            return decided.unrecorded_reply();
        }
        tracing::info!(
            request_id = %record.request_id,
            client = %request.client.name,
            %user,
            method = decided.login().method.as_str(),
            verdict = ?decided.verdict(),
            reason = decided.reason().map_or("-", Reason::as_str),
            throttled_by = decided.throttled_by().map_or("-", ThrottleRule::as_str),
            dn = record.account.as_ref().map_or("-", |a| a.dn.as_str()),
            "access decision"
        );
        if let Decided::Accept(_) = &decided {
            // Familiar from now on, whatever the method: the trail says so, so a restart agrees.
            // The name is the one the throttle judged: PEAP's inner identity, not the outer
            // (perhaps `anonymous`) User-Name.
            let checked_name = record.inner_identity.as_deref().map_or(
                request.user_name.as_deref().unwrap_or_default(),
                str::as_bytes,
            );
            self.throttle.learn(
                checked_name,
                record.account.as_ref().map(|a| a.sam_account_name.as_str()),
                request.calling_station_id.as_deref(),
                chrono::Utc::now(),
            );
        }
        if let (Decided::Accept(_), Some(account)) = (&decided, &record.account) {
            self.sessions
                .accepted(request, &record.request_id, account)
                .await;
        }
        match decided {
            Decided::Accept(accept) => accept_naming(
                &record.request_id,
                accept.reply.class_suffix.as_deref(),
                accept.attributes,
            ),
            Decided::Reject(reject) => {
                self.metrics.count_reject(reject.reason);
                if let Some(rule) = reject.throttled_by {
                    self.metrics.count_throttled(rule);
                }
                reject.reply()
            }
            Decided::RejectWithAlert { reject, challenge } => {
                self.metrics.count_reject(reject.reason);
                Reply::Challenge {
                    attributes: challenge,
                }
            }
        }
    }
}

impl<D: AccountDirectory> RequestHandler for Gatekeeper<D> {
    async fn access_request(&self, request: AccessRequest) -> Reply {
        let started = Instant::now();
        let reply = match self.login(&request).await {
            AccessFlow::Record(decided) => {
                self.record_and_answer(&request, with_group_attributes(*decided))
                    .await
            }
            AccessFlow::Challenge(attributes) => Reply::Challenge { attributes },
            AccessFlow::Close(attributes) => Reply::RejectWith { attributes },
        };
        let verdict = match reply {
            Reply::Accept { .. } => "accept",
            Reply::Challenge { .. } => "challenge",
            Reply::Reject | Reply::RejectWith { .. } => "reject",
        };
        self.metrics.count_request(RequestLabels {
            client: request.client.name.clone(),
            packet: "access_request",
            verdict,
        });
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
        record.reason = Some(discard.reason.into());
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
