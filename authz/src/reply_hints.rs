//! Which `[[policy.reply]]` groups each logon name was in at its last accept: never an answer,
//! only which question to ask first.
//!
//! The next login of that name asks for its account *with* the telework condition and exactly
//! that reply membership, in one search (`filter::member_user_filter`). AD evaluates every
//! condition live, nested groups counting, so a match proves the membership as of now; when
//! anything changed, the search finds nothing and the login asks as it would without a hint
//! (the account, then each reply group), and remembers the new answer. An accept thus costs the
//! DC one search and one bind however many reply groups there are, and a change in AD still
//! applies at the very next login. Bounded: forgotten all at once when full, which costs each
//! name one login with the extra questions, nothing else.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use crate::filter::Membership;
use crate::user_name::LogonName;

/// More names than log in through one deployment; at most a few MiB.
const MAX_NAMES: usize = 65_536;

/// Reply groups are remembered as the bits of a `u64`, in the order of `reply_groups`; a
/// policy with more groups asks each group every time.
const MAX_GROUPS: usize = 64;

/// The reply groups each name was last seen in.
#[derive(Debug)]
pub(crate) struct ReplyHints {
    /// The `[[policy.reply]]` groups, each once, in file order (`reply_groups`).
    groups: Vec<String>,
    seen: Mutex<HashMap<String, u64>>,
}

impl ReplyHints {
    pub(crate) fn new(groups: Vec<String>) -> Self {
        Self {
            groups,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The reply-group conditions to add to `name`'s account search: each group as member or
    /// not, as last seen. `None` when there is nothing to expect (no reply groups, too many,
    /// or the name not seen yet).
    pub(crate) fn expected(&self, name: &LogonName) -> Option<Vec<Membership<'_>>> {
        if !self.hinted() {
            return None;
        }
        let bits = *self.lock().get(&key(name))?;
        Some(
            self.groups
                .iter()
                .enumerate()
                .map(|(index, group_dn)| Membership {
                    group_dn,
                    member: bits & (1 << index) != 0,
                })
                .collect(),
        )
    }

    /// Remembers the reply groups `name`'s account was found in.
    pub(crate) fn remember(&self, name: &LogonName, member_of: &BTreeSet<&str>) {
        if !self.hinted() {
            return;
        }
        let bits = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, group)| member_of.contains(group.as_str()))
            .fold(0u64, |bits, (index, _)| bits | (1 << index));
        let mut seen = self.lock();
        if seen.len() >= MAX_NAMES {
            seen.clear();
        }
        seen.insert(key(name), bits);
    }

    fn hinted(&self) -> bool {
        (1..=MAX_GROUPS).contains(&self.groups.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// AD matches names without regard to case; names differing only in case share a hint.
fn key(name: &LogonName) -> String {
    format!("{}={}", name.attribute(), name.value().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENGINEERING: &str = "CN=VPN-Engineering,DC=x";
    const SUPPORT: &str = "CN=VPN-Support,DC=x";

    fn alice() -> LogonName {
        LogonName::SamAccountName("alice".into())
    }

    #[test]
    fn the_last_membership_is_expected_by_name_whatever_the_case() {
        let hints = ReplyHints::new(vec![ENGINEERING.into(), SUPPORT.into()]);
        assert_eq!(hints.expected(&alice()), None);
        hints.remember(&alice(), &BTreeSet::from([SUPPORT]));
        let expected = [
            Membership {
                group_dn: ENGINEERING,
                member: false,
            },
            Membership::of(SUPPORT),
        ];
        assert_eq!(hints.expected(&alice()).as_deref(), Some(&expected[..]));
        let shouting = LogonName::SamAccountName("ALICE".into());
        assert_eq!(hints.expected(&shouting).as_deref(), Some(&expected[..]));
        let upn = LogonName::UserPrincipalName("alice".into());
        assert_eq!(hints.expected(&upn), None);
    }

    #[test]
    fn without_reply_groups_nothing_is_remembered() {
        let hints = ReplyHints::new(Vec::new());
        hints.remember(&alice(), &BTreeSet::new());
        assert_eq!(hints.expected(&alice()), None);
    }

    #[test]
    fn a_full_table_starts_over() {
        let hints = ReplyHints::new(vec![ENGINEERING.into()]);
        for n in 0..MAX_NAMES {
            hints.remember(&LogonName::SamAccountName(n.to_string()), &BTreeSet::new());
        }
        assert!(hints
            .expected(&LogonName::SamAccountName("0".into()))
            .is_some());
        hints.remember(&alice(), &BTreeSet::new());
        assert!(hints.expected(&alice()).is_some());
        assert_eq!(hints.expected(&LogonName::SamAccountName("0".into())), None);
    }
}
