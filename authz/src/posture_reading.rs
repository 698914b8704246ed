//! Reading [`AdPosture`] for `adgate check-ad`: a handful of searches as the service account,
//! none on the login path. Gathers; judges nothing (that is `posture_checks.rs`).
//!
//! The domain's password policy lives on the domain object (the rootDSE's
//! `defaultNamingContext`); which fine-grained one is in force for a member AD says itself
//! (`msDS-ResultantPSO`, precedence and group nesting applied), and that PSO is read by its DN
//! (its settings are readable only where delegated: AD's default hides them); the built-in
//! accounts are found by their well-known RIDs under the domain SID (a rename does not hide
//! them), telework members by the in-chain membership filter a login uses. Every value put in
//! a filter is escaped (`filter.rs`).

use std::collections::BTreeMap;

use ldap3::Scope;

use crate::account::{Account, Reader, ATTRIBUTES};
use crate::entry::Entry;
use crate::error::{DirectoryError, PostureReadError};
use crate::filter::{members_filter, sid_filter, CERTIFICATE_NAMES_FILTER};
use crate::posture::{
    AdInterval, AdPosture, BuiltinAccount, CertificateNames, FineGrainedPolicy, PasswordPolicy,
    TeleworkMember,
};
use crate::posture_checks::{ADMINISTRATOR_RID, GUEST_RID};
use crate::service_connection::Search;
use crate::{Authorizer, Directory, FileTime};

/// The attributes of a telework member beyond a login's.
const MEMBER_EXTRA: &[&str] = &[
    "lastLogonTimestamp",
    "whenCreated",
    "adminCount",
    "msDS-ResultantPSO",
];

impl Authorizer<Directory> {
    /// Reads what `adgate check-ad` judges (see [`judge_posture`](crate::judge_posture)):
    /// the domain's password policy, the fine-grained policies and whom of the telework group
    /// they reach, the built-in Administrator and Guest, the telework group's (nested) members,
    /// and every UPN and e-mail address under the base DN. Fails when AD cannot be asked, an
    /// attribute the policy needs is missing, or the telework group does not exist.
    pub async fn read_posture(&self) -> Result<AdPosture, PostureReadError> {
        let directory = &self.directory;
        let group = &self.policy.telework_group;
        if !directory.exists(group).await? {
            return Err(DirectoryError::GroupMissing { dn: group.clone() }.into());
        }
        let domain_dn = directory.default_naming_context().await?;
        let (domain_policy, domain_sid) = directory.domain_policy(&domain_dn).await?;
        let administrator = directory
            .builtin_account(&domain_dn, &domain_sid, ADMINISTRATOR_RID)
            .await?;
        let guest = directory
            .builtin_account(&domain_dn, &domain_sid, GUEST_RID)
            .await?;
        let telework_members = directory.telework_members(group).await?;
        let fine_grained = directory.fine_grained_policies(&telework_members).await?;
        let certificate_names = directory.certificate_names().await?;
        Ok(AdPosture {
            domain_dn,
            domain_policy,
            fine_grained,
            administrator,
            guest,
            telework_members,
            certificate_names,
        })
    }
}

impl Directory {
    /// Runs a search and parses its entries.
    async fn entries(&self, search: Search<'_>) -> Result<Vec<Entry>, DirectoryError> {
        let operation = search.operation;
        self.service
            .search(&search)
            .await?
            .into_iter()
            .map(|entry| {
                Entry::parse(entry)
                    .map_err(|detail| DirectoryError::Malformed { operation, detail })
            })
            .collect()
    }

    /// The domain's DN, from the rootDSE (RFC 4512 §5.1).
    async fn default_naming_context(&self) -> Result<String, DirectoryError> {
        const OPERATION: &str = "rootDSE search";
        let entries = self
            .entries(Search {
                operation: OPERATION,
                base: "",
                scope: Scope::Base,
                filter: "(objectClass=*)",
                attributes: &["defaultNamingContext"],
                size_limit: 1,
            })
            .await?;
        let entry = entries.first().ok_or(DirectoryError::Malformed {
            operation: OPERATION,
            detail: "no rootDSE".into(),
        })?;
        Reader::new(entry).text("defaultNamingContext")
    }

    /// The domain object's password policy and the domain SID (binary).
    async fn domain_policy(
        &self,
        domain_dn: &str,
    ) -> Result<(PasswordPolicy, Vec<u8>), DirectoryError> {
        let entries = self
            .entries(Search {
                operation: "domain policy search",
                base: domain_dn,
                scope: Scope::Base,
                filter: "(objectClass=domain)",
                attributes: &[
                    "minPwdLength",
                    "lockoutThreshold",
                    "lockoutDuration",
                    "lockOutObservationWindow",
                    "objectSid",
                ],
                size_limit: 1,
            })
            .await?;
        let entry = entries.first().ok_or(DirectoryError::MissingAttribute {
            dn: domain_dn.to_owned(),
            attribute: "minPwdLength",
        })?;
        let reader = Reader::new(entry);
        let policy = PasswordPolicy {
            min_length: reader.integer("minPwdLength")?,
            lockout_threshold: reader.integer("lockoutThreshold")?,
            lockout_duration: AdInterval(reader.integer("lockoutDuration")?),
            observation_window: AdInterval(reader.integer("lockOutObservationWindow")?),
        };
        Ok((policy, reader.required("objectSid")?.to_vec()))
    }

    /// The fine-grained password policies in force for `members` (their resultant PSOs), each
    /// read by its DN; one the service account may not read has no settings.
    async fn fine_grained_policies(
        &self,
        members: &[TeleworkMember],
    ) -> Result<Vec<FineGrainedPolicy>, DirectoryError> {
        let mut by_pso: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for member in members {
            if let Some(pso) = &member.resultant_pso {
                by_pso
                    .entry(pso)
                    .or_default()
                    .push(member.sam_account_name.clone());
            }
        }
        let mut policies = Vec::with_capacity(by_pso.len());
        for (dn, telework_members) in by_pso {
            policies.push(FineGrainedPolicy {
                dn: dn.to_owned(),
                policy: self.password_settings(dn).await?,
                telework_members,
            });
        }
        Ok(policies)
    }

    /// A PSO's settings; `None` when they are not readable (the object stays visible to the
    /// service account, its attributes do not).
    async fn password_settings(&self, dn: &str) -> Result<Option<PasswordPolicy>, DirectoryError> {
        const SETTINGS: [&str; 4] = [
            "msDS-MinimumPasswordLength",
            "msDS-LockoutThreshold",
            "msDS-LockoutDuration",
            "msDS-LockoutObservationWindow",
        ];
        let entries = self
            .entries(Search {
                operation: "fine-grained password policy search",
                base: dn,
                scope: Scope::Base,
                filter: "(objectClass=*)",
                attributes: &SETTINGS,
                size_limit: 1,
            })
            .await?;
        let Some(entry) = entries.first() else {
            return Ok(None);
        };
        if SETTINGS.iter().any(|name| entry.values(name).is_empty()) {
            return Ok(None);
        }
        let reader = Reader::new(entry);
        Ok(Some(PasswordPolicy {
            min_length: reader.integer("msDS-MinimumPasswordLength")?,
            lockout_threshold: reader.integer("msDS-LockoutThreshold")?,
            lockout_duration: AdInterval(reader.integer("msDS-LockoutDuration")?),
            observation_window: AdInterval(reader.integer("msDS-LockoutObservationWindow")?),
        }))
    }

    /// The account whose SID is the domain SID plus `rid`, if visible.
    async fn builtin_account(
        &self,
        domain_dn: &str,
        domain_sid: &[u8],
        rid: u32,
    ) -> Result<Option<BuiltinAccount>, DirectoryError> {
        let sid =
            account_sid(domain_sid, rid).ok_or_else(|| DirectoryError::MalformedAttribute {
                dn: domain_dn.to_owned(),
                attribute: "objectSid",
                detail: "not a domain SID".into(),
            })?;
        let filter = sid_filter(&sid);
        let entries = self
            .entries(Search {
                operation: "built-in account search",
                base: domain_dn,
                scope: Scope::Subtree,
                filter: &filter,
                attributes: &["sAMAccountName", "userAccountControl"],
                size_limit: 1,
            })
            .await?;
        let Some(entry) = entries.first() else {
            return Ok(None);
        };
        let reader = Reader::new(entry);
        Ok(Some(BuiltinAccount {
            sam_account_name: reader.text("sAMAccountName")?,
            user_account_control: reader.integer("userAccountControl")?,
        }))
    }

    /// The (nested) members of `group` under the base DN, with their state.
    async fn telework_members(&self, group: &str) -> Result<Vec<TeleworkMember>, DirectoryError> {
        let filter = members_filter(group);
        let attributes: Vec<&str> = ATTRIBUTES.iter().chain(MEMBER_EXTRA).copied().collect();
        let entries = self
            .entries(Search {
                operation: "telework member search",
                base: &self.base_dn,
                scope: Scope::Subtree,
                filter: &filter,
                attributes: &attributes,
                size_limit: 0,
            })
            .await?;
        let mut members = Vec::with_capacity(entries.len());
        for entry in &entries {
            let account = Account::from_entry(entry)?;
            let reader = Reader::new(entry);
            let created = reader
                .optional_text("whenCreated")?
                .map(|text| {
                    FileTime::from_generalized_time(&text).ok_or_else(|| {
                        DirectoryError::MalformedAttribute {
                            dn: entry.dn.clone(),
                            attribute: "whenCreated",
                            detail: format!("{text:?} is not a GeneralizedTime"),
                        }
                    })
                })
                .transpose()?;
            members.push(TeleworkMember {
                sam_account_name: account.summary.sam_account_name,
                state: account.state,
                last_logon: reader
                    .optional_integer::<i64>("lastLogonTimestamp")?
                    .filter(|&ticks| ticks > 0)
                    .map(FileTime),
                created,
                admin_count: reader.optional_integer::<u32>("adminCount")? == Some(1),
                resultant_pso: reader.optional_text("msDS-ResultantPSO")?,
            });
        }
        Ok(members)
    }

    /// Every user account under the base DN with a UPN or an e-mail address.
    async fn certificate_names(&self) -> Result<Vec<CertificateNames>, DirectoryError> {
        let entries = self
            .entries(Search {
                operation: "certificate name search",
                base: &self.base_dn,
                scope: Scope::Subtree,
                filter: CERTIFICATE_NAMES_FILTER,
                attributes: &[
                    "sAMAccountName",
                    "userPrincipalName",
                    "mail",
                    "proxyAddresses",
                ],
                size_limit: 0,
            })
            .await?;
        let mut accounts = Vec::with_capacity(entries.len());
        for entry in &entries {
            let reader = Reader::new(entry);
            let proxy_smtp = entry.values("proxyAddresses").iter().filter_map(|value| {
                let text = std::str::from_utf8(value).ok()?;
                let (scheme, address) = text.split_once(':')?;
                scheme
                    .eq_ignore_ascii_case("smtp")
                    .then(|| address.to_owned())
            });
            let emails = entry
                .values("mail")
                .iter()
                .filter_map(|value| String::from_utf8(value.clone()).ok())
                .chain(proxy_smtp)
                .collect();
            accounts.push(CertificateNames {
                sam_account_name: reader.text("sAMAccountName")?,
                user_principal_name: reader.optional_text("userPrincipalName")?,
                emails,
            });
        }
        Ok(accounts)
    }
}

/// The SID of account `rid` in the domain `domain_sid` (binary, MS-DTYP 2.4.2.2): one more
/// sub-authority, little-endian. `None` if `domain_sid` is not a SID.
fn account_sid(domain_sid: &[u8], rid: u32) -> Option<Vec<u8>> {
    let (&revision, rest) = domain_sid.split_first()?;
    let (&count, body) = rest.split_first()?;
    if revision != 1 || body.len() != 6 + 4 * usize::from(count) {
        return None;
    }
    let mut sid = vec![revision, count.checked_add(1)?];
    sid.extend_from_slice(body);
    sid.extend_from_slice(&rid.to_le_bytes());
    Some(sid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object_ids::sid_text;

    #[test]
    fn well_known_rids_extend_the_domain_sid() {
        // S-1-5-21-1-2-3
        let mut domain = vec![1, 4, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1, 2, 3] {
            domain.extend_from_slice(&sub.to_le_bytes());
        }
        let administrator = account_sid(&domain, 500).unwrap();
        assert_eq!(sid_text(&administrator).unwrap(), "S-1-5-21-1-2-3-500");
        assert_eq!(account_sid(&domain[..9], 500), None);
        assert_eq!(account_sid(&[], 500), None);
        assert_eq!(account_sid(&[2, 0, 0, 0, 0, 0, 0, 5], 500), None);
    }
}
