//! How an account is a member of a group through nested groups — `alice → CN=Team-X →
//! CN=Telework-Allowed` — for `adgate explain`. Logins never need this: the in-chain matching
//! rule answers "member or not" in one search. Explain walks upward from the account's
//! `memberOf`, breadth first, so the path shown is a shortest one; it visits each group once
//! (AD allows membership cycles) and stops after a bounded depth and number of searches.

use std::collections::{HashSet, VecDeque};

use crate::account_directory::AccountDirectory;
use crate::Authorizer;

/// Group levels followed upward before giving up.
pub const MAX_GROUP_PATH_DEPTH: usize = 8;
/// Searches one path may cost, for wide group trees.
const MAX_SEARCHES: usize = 256;

impl<D: AccountDirectory> Authorizer<D> {
    /// A shortest chain of groups by which `dn` is in `group`: the groups from the one `dn` is
    /// directly in up to `group` itself. `Ok(None)`: not found within
    /// [`MAX_GROUP_PATH_DEPTH`] levels. `Err`: what kept AD from answering.
    pub async fn group_path(&self, dn: &str, group: &str) -> Result<Option<Vec<String>>, String> {
        let target = normalized_dn(group);
        let mut seen: HashSet<String> = HashSet::from([normalized_dn(dn)]);
        // Each entry: a DN to expand and the path of groups that led to it.
        let mut queue = VecDeque::from([(dn.to_owned(), Vec::<String>::new())]);
        let mut searches = 0;
        while let Some((current, path)) = queue.pop_front() {
            if path.len() >= MAX_GROUP_PATH_DEPTH || searches >= MAX_SEARCHES {
                continue;
            }
            searches += 1;
            let groups = self
                .directory
                .direct_groups(&current)
                .await
                .map_err(|error| error.to_string())?;
            for parent in groups {
                if !seen.insert(normalized_dn(&parent)) {
                    continue;
                }
                let mut longer = path.clone();
                longer.push(parent.clone());
                if normalized_dn(&parent) == target {
                    return Ok(Some(longer));
                }
                queue.push_back((parent, longer));
            }
        }
        Ok(None)
    }

    /// Whether the group `dn` exists (and is visible to the service account), for explain to
    /// tell a misspelt `[[policy.reply]]` group from one the user is not in.
    pub async fn group_exists(&self, dn: &str) -> Result<bool, String> {
        self.directory
            .exists(dn)
            .await
            .map_err(|error| error.to_string())
    }
}

/// A DN in the form two spellings of the same DN share, for comparing a configured DN with
/// the one AD returns: ASCII case folded, spaces around `,` and `=` dropped.
fn normalized_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_dn_compare_equal() {
        assert_eq!(
            normalized_dn("CN=Telework-Allowed, CN=Users,DC=corp, DC = example,DC=test"),
            normalized_dn("cn=telework-allowed,cn=users,dc=corp,dc=example,dc=test")
        );
        assert_ne!(
            normalized_dn("CN=Telework-Allowed,CN=Users,DC=corp"),
            normalized_dn("CN=Telework-Alowed,CN=Users,DC=corp")
        );
    }
}
