//! `[policy]`: the telework group, and the attributes `[[policy.reply]]` adds to an accept by
//! group.

use toml::Spanned;

use super::file::{PolicySection, ReplySection};
use super::{ConfigError, Validator};

/// RADIUS text and string values hold at most 253 octets (RFC 2865 §5).
const MAX_REPLY_TEXT_LEN: usize = 253;
/// Keeps `adgate:<request_id>:<suffix>` far below the 253 octets a Class holds (RFC 2865 §5.25).
const MAX_CLASS_SUFFIX_LEN: usize = 64;
/// The longest Session-Timeout: 30 days.
const MAX_SESSION_TIMEOUT_S: u64 = 30 * 86_400;

impl Validator<'_> {
    pub(super) fn policy(
        &self,
        section: PolicySection,
    ) -> Result<adgate_authz::PolicyConfig, ConfigError> {
        let telework_group = section.telework_group;
        if telework_group.get_ref().trim().is_empty() {
            return Err(self.invalid(
                telework_group.span(),
                "policy.telework_group",
                "must be the distinguished name of the AD group that allows telework",
            ));
        }
        Ok(adgate_authz::PolicyConfig {
            telework_group: telework_group.into_inner(),
            reply: self.reply_rules(section.reply)?,
        })
    }

    fn reply_rules(
        &self,
        sections: Vec<ReplySection>,
    ) -> Result<Vec<adgate_authz::ReplyRule>, ConfigError> {
        let mut rules = Vec::with_capacity(sections.len());
        for (index, section) in sections.into_iter().enumerate() {
            let key = |field: &str| format!("policy.reply[{index}].{field}");
            let group = section.group;
            if !group.get_ref().contains('=') {
                return Err(self.invalid(
                    group.span(),
                    &key("group"),
                    "must be the distinguished name of an AD group, such as \
                     CN=VPN-Engineering,CN=Users,DC=corp,DC=example,DC=com",
                ));
            }
            let text = |value: Option<Spanned<String>>, field: &str| {
                value
                    .map(|value| {
                        let ok = (1..=MAX_REPLY_TEXT_LEN).contains(&value.get_ref().len())
                            && !value.get_ref().chars().any(char::is_control);
                        if ok {
                            Ok(value.into_inner())
                        } else {
                            Err(self.invalid(
                                value.span(),
                                &key(field),
                                format!(
                                    "must be 1 to {MAX_REPLY_TEXT_LEN} octets of text without \
                                     control characters"
                                ),
                            ))
                        }
                    })
                    .transpose()
            };
            let class_suffix = section
                .class_suffix
                .map(|suffix| {
                    let value = suffix.get_ref();
                    let ok = (1..=MAX_CLASS_SUFFIX_LEN).contains(&value.len())
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                    if ok {
                        Ok(suffix.into_inner())
                    } else {
                        Err(self.invalid(
                            suffix.span(),
                            &key("class_suffix"),
                            format!(
                                "must be 1 to {MAX_CLASS_SUFFIX_LEN} characters from A-Z a-z \
                                 0-9 . _ -"
                            ),
                        ))
                    }
                })
                .transpose()?;
            let session_timeout = section
                .session_timeout
                .map(|seconds| match u32::try_from(*seconds.get_ref()) {
                    Ok(value) if (1..=MAX_SESSION_TIMEOUT_S).contains(seconds.get_ref()) => {
                        Ok(value)
                    }
                    _ => Err(self.invalid(
                        seconds.span(),
                        &key("session_timeout"),
                        format!("must be between 1 and {MAX_SESSION_TIMEOUT_S} seconds (30 days)"),
                    )),
                })
                .transpose()?;
            let attributes = adgate_authz::ReplyAttributes {
                filter_id: text(section.filter_id, "filter_id")?,
                class_suffix,
                session_timeout,
                framed_pool: text(section.framed_pool, "framed_pool")?,
            };
            if attributes.is_empty() {
                return Err(self.invalid(
                    group.span(),
                    &format!("policy.reply[{index}]"),
                    "sets no attribute: give filter_id, class_suffix, session_timeout or \
                     framed_pool",
                ));
            }
            rules.push(adgate_authz::ReplyRule {
                group: group.into_inner(),
                attributes,
            });
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;

    /// The lab's `[[policy.reply]]` entry with `line` in place of `filter_id`, before `[audit]`.
    fn with_reply(line: &str) -> impl Fn(String) -> String + '_ {
        move |t| {
            t.replace(
                "\n[audit]",
                &format!(
                    "\n[[policy.reply]]\ngroup = \"CN=VPN-Engineering,CN=Users,DC=corp\"\n{line}\n\
                     session_timeout = 28800\n\n[audit]"
                ),
            )
        }
    }

    #[test]
    fn reply_entries_load_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&write_config(dir.path(), |t| t)).unwrap();
        assert!(config.policy.reply.is_empty());
        let two = |t: String| {
            with_reply("filter_id = \"eng\"\nclass_suffix = \"eng-1.a_b\"")(t).replace(
                "\n[audit]",
                "\n[[policy.reply]]\ngroup = \"CN=Contractors,DC=corp\"\nframed_pool = \"ext\"\n\n[audit]",
            )
        };
        let config = Config::load(&write_config(dir.path(), two)).unwrap();
        let reply = &config.policy.reply;
        assert_eq!(reply.len(), 2);
        assert_eq!(reply[0].group, "CN=VPN-Engineering,CN=Users,DC=corp");
        assert_eq!(reply[0].attributes.filter_id.as_deref(), Some("eng"));
        assert_eq!(
            reply[0].attributes.class_suffix.as_deref(),
            Some("eng-1.a_b")
        );
        assert_eq!(reply[0].attributes.session_timeout, Some(28800));
        assert_eq!(reply[1].attributes.framed_pool.as_deref(), Some("ext"));
    }

    #[test]
    fn bad_reply_entries_name_their_key_and_line() {
        let long = format!("filter_id = \"{}\"", "f".repeat(254));
        for (line, key) in [
            ("class_suffix = \"a:b\"", "policy.reply[0].class_suffix"),
            ("class_suffix = \"\"", "policy.reply[0].class_suffix"),
            (long.as_str(), "policy.reply[0].filter_id"),
            ("framed_pool = \"a\\nb\"", "policy.reply[0].framed_pool"),
        ] {
            let error = load_error(with_reply(line));
            assert!(error.contains(key), "{line}: {error}");
            assert!(error.contains("line 22"), "{line}: {error}");
        }
        for seconds in ["0", "2592001", "-1"] {
            let error = load_error(|t| {
                with_reply("filter_id = \"eng\"")(t).replace(
                    "session_timeout = 28800",
                    &format!("session_timeout = {seconds}"),
                )
            });
            assert!(error.contains("session_timeout"), "{seconds}: {error}");
        }
        let error = load_error(|t| {
            with_reply("filter_id = \"eng\"")(t)
                .replace("CN=VPN-Engineering,CN=Users,DC=corp", "VPN-Engineering")
        });
        assert!(error.contains("policy.reply[0].group"), "{error}");
        assert!(error.contains("line 21"), "{error}");
        let error = load_error(|t| with_reply("")(t).replace("session_timeout = 28800", ""));
        assert!(error.contains("sets no attribute"), "{error}");
        let error = load_error(with_reply("filter = \"x\""));
        assert!(error.contains("filter"), "{error}");
    }
}
