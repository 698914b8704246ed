//! `type: "ad_check"` (docs/audit-schema.md): one run of the AD checks `serve` makes every
//! `oversight.ad_check_interval_s`, so that the trail shows where the domain stood against the
//! telework policy over time, and when AD could not be checked. The findings have the shape
//! `adgate check-ad --format json` prints.

use adgate_authz::{Finding, FindingStatus};
use serde::Serialize;

use super::record::{timestamp, SCHEMA_VERSION};

/// One policy item's result, as `check-ad --format json` prints it and the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRecord {
    pub check: &'static str,
    /// `pass`, `warn` or `fail`.
    pub status: &'static str,
    pub detail: String,
    /// The accounts (sAMAccountNames) the finding names; empty when it names none.
    pub accounts: Vec<String>,
}

impl From<&Finding> for FindingRecord {
    fn from(finding: &Finding) -> Self {
        FindingRecord {
            check: finding.check.as_str(),
            status: finding.status.as_str(),
            detail: finding.detail.clone(),
            accounts: finding.accounts.clone(),
        }
    }
}

/// How many findings have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

impl StatusCounts {
    pub fn of(findings: &[Finding]) -> StatusCounts {
        let count = |status| findings.iter().filter(|f| f.status == status).count();
        StatusCounts {
            pass: count(FindingStatus::Pass),
            warn: count(FindingStatus::Warn),
            fail: count(FindingStatus::Fail),
        }
    }
}

/// `type: "ad_check"`.
#[derive(Debug, Clone, Serialize)]
pub struct AdCheckRecord {
    pub schema: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time: String,
    /// `completed`, or `unavailable` when AD could not be read (see `error`).
    pub result: &'static str,
    /// Why AD could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The domain checked (its DN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<StatusCounts>,
    pub findings: Vec<FindingRecord>,
}

impl AdCheckRecord {
    /// A completed run over `domain` that found `findings`.
    pub fn completed(domain: String, findings: &[Finding]) -> AdCheckRecord {
        AdCheckRecord {
            schema: SCHEMA_VERSION,
            kind: "ad_check",
            time: timestamp(),
            result: "completed",
            error: None,
            domain: Some(domain),
            counts: Some(StatusCounts::of(findings)),
            findings: findings.iter().map(FindingRecord::from).collect(),
        }
    }

    /// A run that could not read AD.
    pub fn unavailable(error: String) -> AdCheckRecord {
        AdCheckRecord {
            schema: SCHEMA_VERSION,
            kind: "ad_check",
            time: timestamp(),
            result: "unavailable",
            error: Some(error),
            domain: None,
            counts: None,
            findings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use adgate_authz::PostureCheck;

    use super::*;

    #[test]
    fn a_run_is_recorded_with_its_findings_and_counts() {
        let findings = [
            Finding {
                check: PostureCheck::AdministratorRenamed,
                status: FindingStatus::Fail,
                detail: "still named Administrator".into(),
                accounts: vec!["Administrator".into()],
            },
            Finding {
                check: PostureCheck::GuestDisabled,
                status: FindingStatus::Pass,
                detail: "disabled".into(),
                accounts: vec![],
            },
        ];
        let record = AdCheckRecord::completed("DC=corp".into(), &findings);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["type"], "ad_check");
        assert_eq!(json["result"], "completed");
        assert_eq!(json["domain"], "DC=corp");
        assert_eq!(
            json["counts"],
            serde_json::json!({"pass": 1, "warn": 0, "fail": 1})
        );
        assert_eq!(
            json["findings"][0],
            serde_json::json!({"check": "administrator_renamed", "status": "fail",
                "detail": "still named Administrator", "accounts": ["Administrator"]})
        );
        let failed = serde_json::to_value(AdCheckRecord::unavailable("DC down".into())).unwrap();
        assert_eq!(failed["result"], "unavailable");
        assert_eq!(failed["error"], "DC down");
        assert!(failed.get("counts").is_none());
    }
}
