//! `[sessions]` and each client's `[clients.disconnect]`: how live sessions are watched, and
//! where and how each NAS takes RFC 5176 Disconnect-Requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{DisconnectProfile, SharedSecret};

use super::file::{DisconnectSection, SessionsSection};
use super::{ConfigError, Validator};
use crate::secret_file;
use crate::sessions::{DisconnectDriver, DisconnectTarget, SessionSettings};

impl Validator<'_> {
    pub(super) fn sessions(
        &self,
        section: Option<SessionsSection>,
    ) -> Result<SessionSettings, ConfigError> {
        let section = section.unwrap_or_default();
        let mut settings = SessionSettings::default();
        let seconds = |value: &Option<toml::Spanned<u64>>, range, key, default: Duration| {
            value
                .as_ref()
                .map(|value| self.within(value, range, key).map(Duration::from_secs))
                .unwrap_or(Ok(default))
        };
        settings.recheck_interval = seconds(
            &section.recheck_interval_s,
            1..=3600,
            "sessions.recheck_interval_s",
            settings.recheck_interval,
        )?;
        settings.limits.accept_grace = seconds(
            &section.accept_grace_s,
            1..=3600,
            "sessions.accept_grace_s",
            settings.limits.accept_grace,
        )?;
        settings.limits.stale_after = seconds(
            &section.stale_after_s,
            60..=30 * 86_400,
            "sessions.stale_after_s",
            settings.limits.stale_after,
        )?;
        if let Some(max) = &section.max_sessions {
            settings.limits.max_entries =
                self.within(max, 1..=1_000_000, "sessions.max_sessions")?;
        }
        if let Some(path) = section.control_socket {
            settings.control_socket = path;
        }
        if let Some(group) = section.control_group {
            if group.get_ref().is_empty() || group.get_ref().contains([':', '\n']) {
                return Err(self.invalid(
                    group.span(),
                    "sessions.control_group",
                    "must be a group name",
                ));
            }
            settings.control_group = group.into_inner();
        }
        Ok(settings)
    }

    /// The client's Disconnect target; its secret defaults to the client's own.
    pub(super) fn disconnect(
        &self,
        section: DisconnectSection,
        client_secret: &SharedSecret,
        key: &dyn Fn(&str) -> String,
    ) -> Result<DisconnectTarget, ConfigError> {
        let address = section
            .address
            .get_ref()
            .parse::<SocketAddr>()
            .map_err(|_| {
                self.invalid(
                    section.address.span(),
                    &key("disconnect.address"),
                    "must be an address and port, such as \"192.0.2.10:3799\"",
                )
            })?;
        let kind = section
            .kind
            .as_ref()
            .map_or("rfc5176", |kind| kind.get_ref().as_str());
        let misplaced = |key_name: &str, span: std::ops::Range<usize>| {
            self.invalid(
                span,
                &key(&format!("disconnect.{key_name}")),
                format!("does not apply to kind = \"{kind}\""),
            )
        };
        if kind != "softether" {
            for (name, value) in [
                ("hub", &section.hub),
                (
                    "server_certificate_sha256",
                    &section.server_certificate_sha256,
                ),
            ] {
                if let Some(value) = value {
                    return Err(misplaced(name, value.span()));
                }
            }
        }
        let driver = match kind {
            "rfc5176" => {
                if let Some(password_file) = &section.password_file {
                    return Err(misplaced("password_file", password_file.span()));
                }
                self.rfc5176_driver(&section, client_secret, key)?
            }
            "openvpn_management" => {
                if let Some(secret_file) = &section.secret_file {
                    return Err(misplaced("secret_file", secret_file.span()));
                }
                if let Some(profile) = &section.profile {
                    return Err(misplaced("profile", profile.span()));
                }
                let password = section
                    .password_file
                    .map(|file| {
                        let span = file.span();
                        secret_file::read(file.get_ref())
                            .map(|bytes| Arc::new(SharedSecret::new(bytes.to_vec())))
                            .map_err(|e| self.invalid(span, &key("disconnect.password_file"), e))
                    })
                    .transpose()?;
                DisconnectDriver::OpenVpnManagement { password }
            }
            "softether" => {
                if let Some(secret_file) = &section.secret_file {
                    return Err(misplaced("secret_file", secret_file.span()));
                }
                if let Some(profile) = &section.profile {
                    return Err(misplaced("profile", profile.span()));
                }
                self.softether_driver(&section, key)?
            }
            _ => {
                let span = section.kind.map_or(0..0, |kind| kind.span());
                return Err(self.invalid(
                    span,
                    &key("disconnect.kind"),
                    "must be rfc5176, openvpn_management or softether",
                ));
            }
        };
        Ok(DisconnectTarget { address, driver })
    }

    /// An RFC 5176 target's secret (the client's own unless `secret_file`) and profile.
    fn rfc5176_driver(
        &self,
        section: &DisconnectSection,
        client_secret: &SharedSecret,
        key: &dyn Fn(&str) -> String,
    ) -> Result<DisconnectDriver, ConfigError> {
        let secret = match &section.secret_file {
            Some(file) => {
                let span = file.span();
                let bytes = secret_file::read(file.get_ref())
                    .map_err(|e| self.invalid(span.clone(), &key("disconnect.secret_file"), e))?;
                self.shared_secret(bytes.to_vec(), span, &key("disconnect.secret_file"))?
            }
            None => SharedSecret::new(client_secret.expose().to_vec()),
        };
        let profile = match &section.profile {
            None => DisconnectProfile::Default,
            Some(name) => DisconnectProfile::from_name(name.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = DisconnectProfile::ALL.iter().map(|p| p.name()).collect();
                self.invalid(
                    name.span(),
                    &key("disconnect.profile"),
                    format!("must be one of {}", names.join(", ")),
                )
            })?,
        };
        Ok(DisconnectDriver::Rfc5176 {
            secret: Arc::new(secret),
            profile,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;
    use crate::sessions::DisconnectDriver;

    /// The config with `[clients.disconnect]` holding `lines` for the first client.
    fn with_disconnect(text: String, lines: &str) -> String {
        text.replacen(
            "vpn1.secret\"\n",
            &format!("vpn1.secret\"\n[clients.disconnect]\n{lines}\n"),
            1,
        )
    }

    #[test]
    fn sessions_default_and_disconnect_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), |t| {
            t + "\n[[clients]]\nname = \"gw\"\naddress = \"192.0.2.10/32\"\nsecret = \
                 \"another-long-radius-secret\"\n[clients.disconnect]\naddress = \
                 \"192.0.2.10:3799\"\nprofile = \"user_name\"\n"
        });
        let config = Config::load(&path).unwrap();
        assert_eq!(config.sessions.recheck_interval, Duration::from_secs(5));
        assert!(config.clients[0].disconnect.is_none());
        let target = config.clients[1].disconnect.as_ref().unwrap();
        assert_eq!(target.address, "192.0.2.10:3799".parse().unwrap());
        let DisconnectDriver::Rfc5176 { secret, profile } = &target.driver else {
            panic!("{target:?}");
        };
        assert_eq!(secret.expose(), b"another-long-radius-secret");
        assert_eq!(profile.name(), "user_name");
    }

    #[test]
    fn an_openvpn_management_target_loads_with_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("management.pass");
        std::fs::write(&password_file, "management-password\n").unwrap();
        let path = write_config(dir.path(), |t| {
            with_disconnect(
                t,
                &format!(
                    "kind = \"openvpn_management\"\naddress = \"127.0.0.1:7505\"\n\
                     password_file = \"{}\"",
                    password_file.display()
                ),
            )
        });
        let config = Config::load(&path).unwrap();
        let target = config.clients[0].disconnect.as_ref().unwrap();
        assert_eq!(target.address, "127.0.0.1:7505".parse().unwrap());
        let DisconnectDriver::OpenVpnManagement { password } = &target.driver else {
            panic!("{target:?}");
        };
        assert_eq!(password.as_ref().unwrap().expose(), b"management-password");
    }

    #[test]
    fn a_setting_of_another_kind_or_an_unknown_kind_is_refused() {
        let error = load_error(|t| {
            with_disconnect(
                t,
                "kind = \"openvpn_management\"\naddress = \"127.0.0.1:7505\"\nprofile = \"user_name\"",
            )
        });
        assert!(error.contains("clients[0].disconnect.profile"), "{error}");
        assert!(error.contains("openvpn_management"), "{error}");
        let error =
            load_error(|t| with_disconnect(t, "kind = \"telnet\"\naddress = \"127.0.0.1:7505\""));
        assert!(error.contains("clients[0].disconnect.kind"), "{error}");
    }

    #[test]
    fn bad_disconnect_and_sessions_keys_name_their_key() {
        let error = load_error(|t| with_disconnect(t, "address = \"192.0.2.10\""));
        assert!(error.contains("clients[0].disconnect.address"), "{error}");
        let error = load_error(|t| {
            with_disconnect(t, "address = \"192.0.2.10:3799\"\nprofile = \"cisco\"")
        });
        assert!(error.contains("clients[0].disconnect.profile"), "{error}");
        assert!(error.contains("user_name_framed_ip"), "{error}");
        let error = load_error(|t| t + "\n[sessions]\nrecheck_interval_s = 0\n");
        assert!(error.contains("sessions.recheck_interval_s"), "{error}");
    }
}
