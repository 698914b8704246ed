//! The audit trail: every access decision and every discarded request, as one JSON line each,
//! hash-chained, made durable before the NAS hears the answer, rotated into compressed read-only
//! segments, vouched for by signed checkpoints. Records are what an auditor reads after an
//! incident; `verify` proves they were not edited, `query` answers "who, when, from where".

mod ad_check_record;
mod chain;
mod checkpoint;
mod config_record;
mod discards;
mod query;
mod record;
mod recovery;
mod retention;
mod segment;
mod session_record;
#[cfg(test)]
pub mod test_trail;
mod trail;
mod verify;
mod writer;

pub use ad_check_record::{AdCheckRecord, FindingRecord, StatusCounts};
pub use chain::ChainFields;
pub use checkpoint::{generate_key_pair, CheckpointSigner};
pub use config_record::{ConfigRecord, FileRecord, Trigger};
pub use discards::DiscardLimiter;
pub use query::{query, QueryFilter};
pub use record::{
    AccountRecord, AccountingRecord, CertificateRecord, NasRecord, Record, ReplyRecord, UserName,
    Verdict,
};
pub use retention::Retention;
pub use segment::{list as list_segments, written_since, SegmentLines, OPEN_SEGMENT};
pub use session_record::{DisconnectRecord, Requester, SessionDroppedRecord, SessionOnNas};
pub use trail::{AuditError, AuditTrail, TrailSettings};
pub use verify::verify;
