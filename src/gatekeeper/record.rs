//! The audit records of the requests the gatekeeper handles: what every record of a request
//! says (where it came from, who it names), what a decision adds, and the append itself —
//! timed, and noted for readiness — which must succeed before the answer goes out.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use adgate_authz::AccountDirectory;
use adgate_radius::AccessRequest;

use super::Gatekeeper;
use crate::audit::{AuditError, NasRecord, Record, ReplyRecord, UserName, Verdict};
use crate::decision::Decided;
use crate::throttle::ThrottleRule;

/// Where an authenticated request came from and who it names: what every record of one says.
pub(super) struct Origin<'a> {
    pub(super) client: &'a str,
    pub(super) source: SocketAddr,
    pub(super) identifier: u8,
    pub(super) nas_identifier: &'a Option<String>,
    pub(super) nas_ip_address: Option<IpAddr>,
    pub(super) user_name: Option<&'a [u8]>,
    pub(super) calling_station_id: &'a Option<String>,
}

impl Origin<'_> {
    pub(super) fn record(&self, verdict: Verdict) -> Record {
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

/// The record of `decided`, the decision on `request`.
pub(super) fn decision_record(request: &AccessRequest, decided: &Decided) -> Record {
    let user_name = request.user_name.as_deref().unwrap_or_default();
    let mut record = Origin {
        client: &request.client.name,
        source: request.source,
        identifier: request.identifier,
        nas_identifier: &request.nas_identifier,
        nas_ip_address: request.nas_ip_address,
        user_name: Some(user_name),
        calling_station_id: &request.calling_station_id,
    }
    .record(decided.verdict());
    let login = decided.login();
    record.method = Some(login.method.as_str());
    record.reason = decided.reason();
    record.throttled_by = decided.throttled_by().map(ThrottleRule::as_str);
    record.account = login.account.clone();
    record.certificate = login.certificate.clone();
    record.inner_identity = login.inner_identity.clone();
    record.reply = decided.reply_attributes().and_then(ReplyRecord::of);
    record.message_authenticator = Some(request.message_authenticator);
    record
}

impl<D: AccountDirectory> Gatekeeper<D> {
    /// Appends `record` to the trail, timing the write and noting whether it succeeded.
    pub(super) async fn append(&self, record: &Record) -> Result<(), AuditError> {
        let started = Instant::now();
        let result = self.trail.append(record).await;
        self.metrics.time_audit_write(started, result.is_ok());
        result
    }
}
