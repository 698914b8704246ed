//! The audit trail: every access decision and every discarded request, as one JSON line each,
//! made durable before the NAS hears the answer. Records are what an auditor reads after an
//! incident, so the schema lives in `record` and the durable append in `trail`.

mod record;
mod trail;

pub use record::{AccountRecord, CertificateRecord, NasRecord, Record, UserName, Verdict};
pub use trail::AuditTrail;
