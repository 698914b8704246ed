//! `[sessions]` and each client's `[clients.disconnect]`: how live sessions are watched, and
//! where and how each NAS is asked to end a session.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{DisconnectProfile, SharedSecret};

use super::file::{DisconnectSection, SessionsSection};
use super::{ConfigError, Validator};
use crate::secret_file;
use crate::sessions::{DisconnectDriver, SessionSettings};

/// `[clients.disconnect] program` for `kind = "ocserv_occtl"` when absent: where Debian's
/// ocserv package installs occtl.
const DEFAULT_OCCTL: &str = "/usr/bin/occtl";

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
    ) -> Result<DisconnectDriver, ConfigError> {
        let kind = section
            .kind
            .as_ref()
            .map_or("rfc5176", |kind| kind.get_ref().as_str());
        let kind_span = section.kind.as_ref().map_or(0..0, |kind| kind.span());
        // The keys each kind uses; any other is refused rather than ignored.
        let uses: &[&str] = match kind {
            "rfc5176" => &["address", "secret_file", "profile"],
            "openvpn_management" => &["address", "password_file"],
            // occtl runs on ocserv's host and reaches it over a Unix socket.
            "ocserv_occtl" => &["program", "socket"],
            "softether" => &[
                "address",
                "hub",
                "password_file",
                "server_certificate_sha256",
            ],
            _ => {
                return Err(self.invalid(
                    kind_span,
                    &key("disconnect.kind"),
                    "must be rfc5176, openvpn_management, ocserv_occtl or softether",
                ));
            }
        };
        for (name, given) in [
            ("address", section.address.as_ref().map(|v| v.span())),
            (
                "secret_file",
                section.secret_file.as_ref().map(|v| v.span()),
            ),
            ("profile", section.profile.as_ref().map(|v| v.span())),
            (
                "password_file",
                section.password_file.as_ref().map(|v| v.span()),
            ),
            ("program", section.program.as_ref().map(|v| v.span())),
            ("socket", section.socket.as_ref().map(|v| v.span())),
            ("hub", section.hub.as_ref().map(|v| v.span())),
            (
                "server_certificate_sha256",
                section.server_certificate_sha256.as_ref().map(|v| v.span()),
            ),
        ] {
            if let Some(given) = given.filter(|_| !uses.contains(&name)) {
                return Err(self.invalid(
                    given,
                    &key(&format!("disconnect.{name}")),
                    format!("does not apply to kind = \"{kind}\""),
                ));
            }
        }
        let address = || {
            let address = section.address.as_ref().ok_or_else(|| {
                self.invalid(
                    kind_span.clone(),
                    &key("disconnect.address"),
                    format!("is needed for kind = \"{kind}\""),
                )
            })?;
            address.get_ref().parse::<SocketAddr>().map_err(|_| {
                self.invalid(
                    address.span(),
                    &key("disconnect.address"),
                    "must be an address and port, such as \"192.0.2.10:3799\"",
                )
            })
        };
        Ok(match kind {
            "openvpn_management" => DisconnectDriver::OpenVpnManagement {
                address: address()?,
                password: section
                    .password_file
                    .as_ref()
                    .map(|file| {
                        secret_file::read(file.get_ref())
                            .map(|bytes| Arc::new(SharedSecret::new(bytes.to_vec())))
                            .map_err(|e| {
                                self.invalid(file.span(), &key("disconnect.password_file"), e)
                            })
                    })
                    .transpose()?,
            },
            "ocserv_occtl" => {
                let absolute = |value: &Option<toml::Spanned<PathBuf>>, name: &str| {
                    value
                        .as_ref()
                        .map(|path| {
                            if path.get_ref().is_absolute() {
                                Ok(path.get_ref().clone())
                            } else {
                                Err(self.invalid(
                                    path.span(),
                                    &key(&format!("disconnect.{name}")),
                                    "must be an absolute path",
                                ))
                            }
                        })
                        .transpose()
                };
                DisconnectDriver::OcservOcctl {
                    program: absolute(&section.program, "program")?
                        .unwrap_or_else(|| PathBuf::from(DEFAULT_OCCTL)),
                    socket: absolute(&section.socket, "socket")?,
                }
            }
            "softether" => self.softether_driver(address()?, &section, kind_span, key)?,
            // rfc5176, the default
            _ => self.rfc5176_driver(address()?, &section, client_secret, key)?,
        })
    }

    /// An RFC 5176 target's secret (the client's own unless `secret_file`) and profile.
    fn rfc5176_driver(
        &self,
        address: SocketAddr,
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
            address,
            secret: Arc::new(secret),
            profile,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
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
        let DisconnectDriver::Rfc5176 {
            address,
            secret,
            profile,
        } = target
        else {
            panic!("{target:?}");
        };
        assert_eq!(*address, "192.0.2.10:3799".parse().unwrap());
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
        let DisconnectDriver::OpenVpnManagement { address, password } = target else {
            panic!("{target:?}");
        };
        assert_eq!(*address, "127.0.0.1:7505".parse().unwrap());
        assert_eq!(password.as_ref().unwrap().expose(), b"management-password");
    }

    #[test]
    fn an_ocserv_occtl_target_loads_with_its_socket_and_occtl_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), |t| {
            with_disconnect(
                t,
                "kind = \"ocserv_occtl\"\nsocket = \"/run/ocserv/occtl.socket\"",
            )
        });
        let config = Config::load(&path).unwrap();
        let target = config.clients[0].disconnect.as_ref().unwrap();
        let DisconnectDriver::OcservOcctl { program, socket } = target else {
            panic!("{target:?}");
        };
        assert_eq!(program, Path::new("/usr/bin/occtl"));
        assert_eq!(
            socket.as_deref(),
            Some(Path::new("/run/ocserv/occtl.socket"))
        );
        assert_eq!(target.address(), None);

        let path = write_config(dir.path(), |t| {
            with_disconnect(
                t,
                "kind = \"ocserv_occtl\"\nprogram = \"/usr/local/sbin/occtl-on-vpn1\"",
            )
        });
        let config = Config::load(&path).unwrap();
        let target = config.clients[0].disconnect.as_ref().unwrap();
        let DisconnectDriver::OcservOcctl { program, socket } = target else {
            panic!("{target:?}");
        };
        assert_eq!(program, Path::new("/usr/local/sbin/occtl-on-vpn1"));
        assert_eq!(*socket, None);
    }

    #[test]
    fn an_ocserv_occtl_target_refuses_an_address_and_relative_paths() {
        let error = load_error(|t| {
            with_disconnect(t, "kind = \"ocserv_occtl\"\naddress = \"127.0.0.1:3799\"")
        });
        assert!(error.contains("clients[0].disconnect.address"), "{error}");
        assert!(
            error.contains("does not apply to kind = \"ocserv_occtl\""),
            "{error}"
        );
        let error =
            load_error(|t| with_disconnect(t, "kind = \"ocserv_occtl\"\nprogram = \"occtl\""));
        assert!(error.contains("clients[0].disconnect.program"), "{error}");
        assert!(error.contains("absolute"), "{error}");
        let error = load_error(|t| {
            with_disconnect(
                t,
                "address = \"192.0.2.10:3799\"\nsocket = \"/run/occtl.socket\"",
            )
        });
        assert!(error.contains("clients[0].disconnect.socket"), "{error}");
        assert!(error.contains("rfc5176"), "{error}");
        let error = load_error(|t| with_disconnect(t, "kind = \"openvpn_management\""));
        assert!(error.contains("clients[0].disconnect.address"), "{error}");
        assert!(error.contains("is needed"), "{error}");
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
