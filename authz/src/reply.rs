//! Per-group reply attributes (`[[policy.reply]]`): what an accepted login carries besides the
//! yes, chosen by the AD groups the user is in.
//!
//! The choice is a pure function of the entries and the set of their groups the user belongs
//! to (nested membership counted by the caller), so it can be tested without AD and explained
//! exactly. The rule an admin can predict: for each attribute, the first entry in file order
//! whose group the user is in and which sets that attribute gives its value; later entries only
//! fill in attributes that earlier matches left unset.

use std::collections::BTreeSet;

/// The attributes one entry sets, or one accept carries. Values are validated by whoever reads
/// the configuration; this crate knows nothing of their wire encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyAttributes {
    /// Filter-Id: the name of a filter list on the NAS.
    pub filter_id: Option<String>,
    /// Appended to the Class that names the decision.
    pub class_suffix: Option<String>,
    /// Session-Timeout in seconds: the longest the session may last.
    pub session_timeout: Option<u32>,
    /// Framed-Pool: the name of the address pool the NAS assigns from.
    pub framed_pool: Option<String>,
}

impl ReplyAttributes {
    /// No attribute set.
    pub fn is_empty(&self) -> bool {
        *self == ReplyAttributes::default()
    }

    /// Takes each attribute `earlier` left unset from `later`.
    fn fill_from(&mut self, later: &ReplyAttributes) {
        fn fill<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
            if slot.is_none() {
                slot.clone_from(value);
            }
        }
        fill(&mut self.filter_id, &later.filter_id);
        fill(&mut self.class_suffix, &later.class_suffix);
        fill(&mut self.session_timeout, &later.session_timeout);
        fill(&mut self.framed_pool, &later.framed_pool);
    }
}

/// One `[[policy.reply]]` entry: members of `group` (directly or through nested groups) get
/// `attributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRule {
    /// The group's distinguished name.
    pub group: String,
    pub attributes: ReplyAttributes,
}

/// The groups the rules name, each once, in file order: what membership must be asked about.
pub fn reply_groups(rules: &[ReplyRule]) -> Vec<&str> {
    let mut groups: Vec<&str> = Vec::new();
    for rule in rules {
        if !groups.contains(&rule.group.as_str()) {
            groups.push(&rule.group);
        }
    }
    groups
}

/// The attributes an accept carries for a user who is in `member_of` (a subset of
/// [`reply_groups`]): per attribute, the first matching rule that sets it.
pub fn select_reply(rules: &[ReplyRule], member_of: &BTreeSet<&str>) -> ReplyAttributes {
    let mut selected = ReplyAttributes::default();
    for rule in rules
        .iter()
        .filter(|rule| member_of.contains(rule.group.as_str()))
    {
        selected.fill_from(&rule.attributes);
    }
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENGINEERING: &str = "CN=VPN-Engineering,CN=Users,DC=corp,DC=example,DC=test";
    const CONTRACTORS: &str = "CN=Contractors,CN=Users,DC=corp,DC=example,DC=test";

    fn rules() -> Vec<ReplyRule> {
        vec![
            ReplyRule {
                group: ENGINEERING.into(),
                attributes: ReplyAttributes {
                    filter_id: Some("engineering".into()),
                    class_suffix: Some("eng".into()),
                    session_timeout: None,
                    framed_pool: Some("eng-pool".into()),
                },
            },
            ReplyRule {
                group: CONTRACTORS.into(),
                attributes: ReplyAttributes {
                    filter_id: Some("contractors".into()),
                    class_suffix: None,
                    session_timeout: Some(3600),
                    framed_pool: None,
                },
            },
            ReplyRule {
                group: ENGINEERING.into(),
                attributes: ReplyAttributes {
                    session_timeout: Some(28800),
                    ..ReplyAttributes::default()
                },
            },
        ]
    }

    #[test]
    fn a_user_in_no_group_gets_nothing() {
        assert!(select_reply(&rules(), &BTreeSet::new()).is_empty());
    }

    #[test]
    fn one_group_gets_all_its_entries_in_file_order() {
        let selected = select_reply(&rules(), &BTreeSet::from([ENGINEERING]));
        assert_eq!(
            selected,
            ReplyAttributes {
                filter_id: Some("engineering".into()),
                class_suffix: Some("eng".into()),
                session_timeout: Some(28800),
                framed_pool: Some("eng-pool".into()),
            }
        );
    }

    #[test]
    fn first_match_wins_per_attribute() {
        let selected = select_reply(&rules(), &BTreeSet::from([ENGINEERING, CONTRACTORS]));
        assert_eq!(
            selected,
            ReplyAttributes {
                filter_id: Some("engineering".into()),
                class_suffix: Some("eng".into()),
                // The Contractors entry comes before the second Engineering entry.
                session_timeout: Some(3600),
                framed_pool: Some("eng-pool".into()),
            }
        );
        let contractor = select_reply(&rules(), &BTreeSet::from([CONTRACTORS]));
        assert_eq!(contractor.filter_id.as_deref(), Some("contractors"));
        assert_eq!(contractor.class_suffix, None);
    }

    #[test]
    fn each_group_is_asked_about_once() {
        assert_eq!(reply_groups(&rules()), vec![ENGINEERING, CONTRACTORS]);
        assert!(reply_groups(&[]).is_empty());
    }
}
