//! `[[clients]]`: the NASes allowed to send requests, each with its network, shared secret and
//! limits, and the certificate name it presents over RadSec.

use std::ops::Range;

use adgate_radius::{MessageAuthenticatorRule, SharedSecret};
use toml::Spanned;

use super::file::{ClientSection, RequireMessageAuthenticator};
use super::{ConfigError, Validator};
use crate::clients::ClientSettings;
use crate::secret_file;

/// Shortest RADIUS shared secret accepted. RFC 2865 §3 asks for secrets "at least 16 octets";
/// after BlastRADIUS (CVE-2024-3596) short secrets are the easiest way in.
const MIN_SHARED_SECRET_LEN: usize = 16;
/// A client's share of `server.max_in_flight` unless it sets its own.
const DEFAULT_CLIENT_MAX_IN_FLIGHT: usize = 32;

impl Validator<'_> {
    pub(super) fn clients(
        &self,
        sections: Vec<ClientSection>,
        server_max_in_flight: usize,
    ) -> Result<Vec<ClientSettings>, ConfigError> {
        let mut clients: Vec<ClientSettings> = Vec::with_capacity(sections.len());
        for (index, section) in sections.into_iter().enumerate() {
            let key = |field: &str| format!("clients[{index}].{field}");
            let name_span = section.name.span();
            let name = section.name.into_inner();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
                return Err(self.invalid(
                    name_span,
                    &key("name"),
                    "must be a non-empty name without spaces",
                ));
            }
            if clients.iter().any(|c| c.name == name) {
                return Err(self.invalid(name_span, &key("name"), "is used by another client"));
            }
            let secret = match (section.secret, section.secret_file) {
                (Some(secret), None) => {
                    let span = secret.span();
                    self.shared_secret(secret.into_inner().into_bytes(), span, &key("secret"))?
                }
                (None, Some(file)) => {
                    let span = file.span();
                    let bytes = secret_file::read(file.get_ref())
                        .map_err(|e| self.invalid(span.clone(), &key("secret_file"), e))?;
                    self.shared_secret(bytes.to_vec(), span, &key("secret_file"))?
                }
                _ => {
                    return Err(self.invalid(
                        name_span,
                        &format!("clients[{index}]"),
                        "needs exactly one of `secret` or `secret_file`",
                    ))
                }
            };
            let max_in_flight = match section.max_in_flight {
                Some(limit) if !(1..=server_max_in_flight).contains(limit.get_ref()) => {
                    return Err(self.invalid(
                        limit.span(),
                        &key("max_in_flight"),
                        "must be between 1 and server.max_in_flight",
                    ))
                }
                Some(limit) => limit.into_inner(),
                None => DEFAULT_CLIENT_MAX_IN_FLIGHT.min(server_max_in_flight),
            };
            let radsec_certificate_name = section
                .radsec_certificate_name
                .map(|name| {
                    pki_types::DnsName::try_from(name.get_ref().as_str())
                        .map(|dns_name| dns_name.to_owned())
                        .map_err(|_| {
                            self.invalid(
                                name.span(),
                                &key("radsec_certificate_name"),
                                "must be a DNS name, as in the certificate's subjectAltName",
                            )
                        })
                })
                .transpose()?;
            let require_message_authenticator = section
                .require_message_authenticator
                .map(|rule| self.message_authenticator_rule(rule, &key))
                .transpose()?
                .unwrap_or_default();
            let disconnect = section
                .disconnect
                .map(|disconnect| self.disconnect(disconnect, &secret, &key))
                .transpose()?;
            clients.push(ClientSettings {
                name,
                address: section.address,
                disconnect,
                secret,
                require_message_authenticator,
                limit_proxy_state: section.limit_proxy_state,
                max_in_flight,
                radsec_certificate_name,
            });
        }
        Ok(clients)
    }

    /// `true` is [`Always`](MessageAuthenticatorRule::Always), `false`
    /// [`Never`](MessageAuthenticatorRule::Never), `"auto"` (the default) from the first signed
    /// request on.
    fn message_authenticator_rule(
        &self,
        setting: Spanned<RequireMessageAuthenticator>,
        key: &dyn Fn(&str) -> String,
    ) -> Result<MessageAuthenticatorRule, ConfigError> {
        let span = setting.span();
        match setting.into_inner() {
            RequireMessageAuthenticator::Flag(true) => Ok(MessageAuthenticatorRule::Always),
            RequireMessageAuthenticator::Flag(false) => Ok(MessageAuthenticatorRule::Never),
            RequireMessageAuthenticator::Word(word) if word == "auto" => {
                Ok(MessageAuthenticatorRule::Auto)
            }
            RequireMessageAuthenticator::Word(_) => Err(self.invalid(
                span,
                &key("require_message_authenticator"),
                "must be true, false or \"auto\"",
            )),
        }
    }

    pub(super) fn shared_secret(
        &self,
        bytes: Vec<u8>,
        span: Range<usize>,
        key: &str,
    ) -> Result<SharedSecret, ConfigError> {
        if bytes.len() < MIN_SHARED_SECRET_LEN {
            return Err(self.invalid(
                span,
                key,
                format!(
                    "is shorter than {MIN_SHARED_SECRET_LEN} characters; use a long random secret \
                     (RFC 2865 §3, BlastRADIUS)"
                ),
            ));
        }
        Ok(SharedSecret::new(bytes))
    }
}

#[cfg(test)]
mod tests {
    use adgate_radius::MessageAuthenticatorRule;

    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;

    fn rule_loaded_from(setting: &str) -> MessageAuthenticatorRule {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), |t| {
            t.replace(
                "address = \"127.0.0.0/8\"",
                &format!("address = \"127.0.0.0/8\"\n{setting}"),
            )
        });
        Config::load(&path).unwrap().clients[0].require_message_authenticator
    }

    #[test]
    fn require_message_authenticator_takes_true_false_and_auto() {
        assert_eq!(rule_loaded_from(""), MessageAuthenticatorRule::Auto);
        for (setting, rule) in [
            ("true", MessageAuthenticatorRule::Always),
            ("false", MessageAuthenticatorRule::Never),
            ("\"auto\"", MessageAuthenticatorRule::Auto),
        ] {
            let line = format!("require_message_authenticator = {setting}");
            assert_eq!(rule_loaded_from(&line), rule, "{line}");
        }
        let error = load_error(|t| {
            t.replace(
                "address = \"127.0.0.0/8\"",
                "address = \"127.0.0.0/8\"\nrequire_message_authenticator = \"sometimes\"",
            )
        });
        assert!(
            error.contains("clients[0].require_message_authenticator"),
            "{error}"
        );
        assert!(error.contains("true, false or \"auto\""), "{error}");
    }

    #[test]
    fn a_bad_cidr_is_reported_with_its_line() {
        let error = load_error(|t| t.replace("127.0.0.0/8", "127.0.0.0/33"));
        assert!(error.contains("line 6"), "{error}");
        assert!(error.contains("address"), "{error}");
    }

    #[test]
    fn a_missing_secret_file_names_key_and_line() {
        let error = load_error(|t| t.replace("vpn1.secret", "missing.secret"));
        assert!(error.contains("line 7"), "{error}");
        assert!(error.contains("clients[0].secret_file"), "{error}");
    }

    #[test]
    fn a_short_secret_is_refused() {
        let error = load_error(|t| {
            t.replace(
                r#"secret_file = ""#,
                r#"secret = "short"
#"#,
            )
        });
        assert!(error.contains("clients[0].secret"), "{error}");
        assert!(error.contains("shorter than 16"), "{error}");
    }

    #[test]
    fn both_secret_and_secret_file_is_ambiguous() {
        let error = load_error(|t| {
            t.replace(
                "name = \"vpn1\"",
                "name = \"vpn1\"\nsecret = \"another-long-secret-value\"",
            )
        });
        assert!(error.contains("exactly one of"), "{error}");
        assert!(error.contains("clients[0]"), "{error}");
    }
}
