//! `[clients.disconnect] kind = "softether"`: how adgate logs in to a SoftEther VPN Server's
//! JSON-RPC admin API (src/sessions/softether_rpc.rs) as one hub's administrator, and which
//! certificate it accepts there. All three keys are required: without the pin adgate would
//! send the password to whoever answers.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;

use adgate_radius::SharedSecret;

use super::file::DisconnectSection;
use super::{ConfigError, Validator};
use crate::secret_file;
use crate::sessions::{parse_fingerprint, DisconnectDriver, SoftEtherHub, UnusableSetting};

impl Validator<'_> {
    pub(super) fn softether_driver(
        &self,
        address: SocketAddr,
        section: &DisconnectSection,
        kind_span: Range<usize>,
        key: &dyn Fn(&str) -> String,
    ) -> Result<DisconnectDriver, ConfigError> {
        let required = |name: &str| {
            self.invalid(
                kind_span.clone(),
                &key(&format!("disconnect.{name}")),
                "is required with kind = \"softether\"",
            )
        };
        let hub = section.hub.as_ref().ok_or_else(|| required("hub"))?;
        let password_file = section
            .password_file
            .as_ref()
            .ok_or_else(|| required("password_file"))?;
        let pin = section
            .server_certificate_sha256
            .as_ref()
            .ok_or_else(|| required("server_certificate_sha256"))?;
        let fingerprint = parse_fingerprint(pin.get_ref()).ok_or_else(|| {
            self.invalid(
                pin.span(),
                &key("disconnect.server_certificate_sha256"),
                "must be 32 octets in hex, as `openssl x509 -noout -fingerprint -sha256` prints",
            )
        })?;
        let password = secret_file::read(password_file.get_ref())
            .map_err(|e| self.invalid(password_file.span(), &key("disconnect.password_file"), e))?;
        let password = Arc::new(SharedSecret::new(password.to_vec()));
        SoftEtherHub::new(hub.get_ref().clone(), password, fingerprint)
            .map(|hub| DisconnectDriver::SoftEther { address, hub })
            .map_err(|problem| {
                let (name, span) = match problem {
                    UnusableSetting::Hub => ("disconnect.hub", hub.span()),
                    UnusableSetting::Password => ("disconnect.password_file", password_file.span()),
                    UnusableSetting::Tls => ("disconnect.server_certificate_sha256", pin.span()),
                };
                self.invalid(span, &key(name), problem.to_string())
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;
    use crate::sessions::DisconnectDriver;

    const PIN: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

    /// The config with a second client, a SoftEther server, whose `[clients.disconnect]` holds
    /// `lines`.
    fn with_softether(text: String, lines: &str) -> String {
        text + "\n[[clients]]\nname = \"softether\"\naddress = \"192.0.2.12/32\"\nsecret = \
                \"another-long-radius-secret\"\n[clients.disconnect]\naddress = \
                \"192.0.2.12:5555\"\n"
            + lines
            + "\n"
    }

    #[test]
    fn a_softether_target_loads_with_its_hub_password_and_pin() {
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("hub.pass");
        std::fs::write(&password_file, "hub-admin-password\n").unwrap();
        let path = write_config(dir.path(), |t| {
            with_softether(
                t,
                &format!(
                    "kind = \"softether\"\nhub = \"DEFAULT\"\npassword_file = \"{}\"\n\
                     server_certificate_sha256 = \"{PIN}\"",
                    password_file.display()
                ),
            )
        });
        let config = Config::load(&path).unwrap();
        let target = config.clients[1].disconnect.as_ref().unwrap();
        assert_eq!(target.address(), Some("192.0.2.12:5555".parse().unwrap()));
        assert!(!target.needs_accounting());
        let DisconnectDriver::SoftEther { hub, .. } = target else {
            panic!("{target:?}");
        };
        assert_eq!(hub.hub, "DEFAULT");
        let shown = format!("{hub:?}");
        assert!(shown.contains("abcdef0123456789"), "{shown}");
        assert!(!shown.contains("hub-admin-password"), "{shown}");
    }

    #[test]
    fn each_softether_key_is_required_checked_and_refused_elsewhere() {
        let password_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(password_file.path(), "hub-admin-password\n").unwrap();
        let complete = format!(
            "kind = \"softether\"\nhub = \"DEFAULT\"\npassword_file = \"{}\"\n\
             server_certificate_sha256 = \"{PIN}\"",
            password_file.path().display()
        );
        for key in ["hub", "password_file", "server_certificate_sha256"] {
            let without: String = complete
                .lines()
                .filter(|line| !line.starts_with(key))
                .collect::<Vec<_>>()
                .join("\n");
            let error = load_error(|t| with_softether(t, &without));
            assert!(
                error.contains(&format!("clients[1].disconnect.{key}")),
                "{error}"
            );
            assert!(error.contains("is required"), "{error}");
        }
        let error = load_error(|t| with_softether(t, &complete.replace(PIN, "AB:CD")));
        assert!(
            error.contains("clients[1].disconnect.server_certificate_sha256"),
            "{error}"
        );
        let error = load_error(|t| with_softether(t, &complete.replace("DEFAULT", "MY HUB")));
        assert!(error.contains("clients[1].disconnect.hub"), "{error}");
        let unreadable = complete.replace(
            &password_file.path().display().to_string(),
            "/nonexistent/hub.pass",
        );
        let error = load_error(|t| with_softether(t, &unreadable));
        assert!(
            error.contains("clients[1].disconnect.password_file"),
            "{error}"
        );

        let error = load_error(|t| with_softether(t, "hub = \"DEFAULT\""));
        assert!(error.contains("clients[1].disconnect.hub"), "{error}");
        assert!(
            error.contains("does not apply to kind = \"rfc5176\""),
            "{error}"
        );
    }
}
