//! The real VPN appliance for integration tests: `deploy/gateway.sh` runs strongSwan's charon
//! as an IKEv2 gateway whose eap-radius plugin asks adgate (and takes its RFC 5176
//! Disconnect-Requests), and a road warrior to log in with. One gateway per lab: tests take
//! turns, and each takes it down again when done, also when it fails.

#![allow(dead_code)] // each test binary uses its own subset of these helpers

pub mod tunnel_gateway;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use crate::common::{Adgate, Lab};
use crate::eap_support::{Credential, TestPki, SERVER_NAME};

/// What the gateway calls itself in RADIUS (NAS-Identifier).
pub const NAS_IDENTIFIER: &str = "strongswan-gw";

/// One gateway per lab: the tests of a binary take turns.
static GATEWAY_IN_USE: Mutex<()> = Mutex::new(());

/// The gateway and road warrior, pointed at one adgate; taken down again on drop.
pub struct Gateway {
    radius_port: u16,
    accounting_port: u16,
    /// Where the gateway takes Disconnect-Requests, on 127.0.0.1 in the lab namespace.
    pub dae_port: u16,
    _turn: MutexGuard<'static, ()>,
}

impl Gateway {
    /// Waits for its turn, then brings the gateway up for `adgate`, taking Disconnect-Requests
    /// on `dae_port`.
    pub fn up_with_dae(adgate: &Adgate, dae_port: u16) -> Gateway {
        let turn = GATEWAY_IN_USE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let gateway = Gateway {
            radius_port: adgate.address.port(),
            accounting_port: adgate.acct_address.port(),
            dae_port,
            _turn: turn,
        };
        let output = gateway.run(&["up".as_ref()]);
        assert!(
            output.status.success(),
            "deploy/gateway.sh up failed:\n{}",
            text(&output)
        );
        gateway
    }

    pub fn up(adgate: &Adgate) -> Gateway {
        Gateway::up_with_dae(adgate, 3799)
    }

    /// Logs `user` in from the road warrior and closes the tunnel again: `(exit code, what it
    /// printed)`.
    pub fn login(&self, user: &str, password_file: &Path) -> (Option<i32>, String) {
        verdict(&self.run(&["login".as_ref(), user.as_ref(), password_file.as_os_str()]))
    }

    /// Logs `user` in with EAP-MSCHAPv2, which the gateway relays to adgate (as Windows' IKEv2
    /// client logs in), and closes the tunnel again.
    pub fn login_with_eap_mschapv2(
        &self,
        user: &str,
        password_file: &Path,
    ) -> (Option<i32>, String) {
        verdict(&self.run(&[
            "login-eap".as_ref(),
            user.as_ref(),
            password_file.as_os_str(),
        ]))
    }

    /// As `login`, but the tunnel stays up.
    pub fn connect(&self, user: &str, password_file: &Path) -> (Option<i32>, String) {
        verdict(&self.run(&["connect".as_ref(), user.as_ref(), password_file.as_os_str()]))
    }

    /// Logs in with `credential` (EAP-TLS), trusting `pki`'s CA for adgate's server certificate,
    /// and closes the tunnel again.
    pub fn login_with_certificate(
        &self,
        pki: &TestPki,
        credential: &Credential,
    ) -> (Option<i32>, String) {
        self.certificate_login("login-cert", pki, credential)
    }

    /// As `login_with_certificate`, but the tunnel stays up.
    pub fn connect_with_certificate(
        &self,
        pki: &TestPki,
        credential: &Credential,
    ) -> (Option<i32>, String) {
        self.certificate_login("connect-cert", pki, credential)
    }

    fn certificate_login(
        &self,
        command: &str,
        pki: &TestPki,
        credential: &Credential,
    ) -> (Option<i32>, String) {
        let output = self
            .command(&[
                command.as_ref(),
                credential.certificate.as_os_str(),
                credential.key.as_os_str(),
            ])
            .env("ADGATE_GATEWAY_EAP_CA_FILE", pki.path("ca.pem"))
            .env("ADGATE_GATEWAY_EAP_SERVER_NAME", SERVER_NAME)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()));
        verdict(&output)
    }

    /// The EAP identities of the tunnels up on the gateway now.
    pub fn tunnels(&self) -> Vec<String> {
        let output = self.run(&["sas".as_ref()]);
        assert!(output.status.success(), "gateway.sh sas: {}", text(&output));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn run(&self, args: &[&OsStr]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()))
    }

    fn command(&self, args: &[&OsStr]) -> Command {
        let lab = Lab::get();
        let mut command = Command::new(script());
        command
            .args(args)
            .env("ADGATE_LAB_DIR", lab.dir())
            .env("ADGATE_LAB_NETNS", lab.value("NETNS"))
            .env("ADGATE_GATEWAY_RADIUS_PORT", self.radius_port.to_string())
            .env("ADGATE_GATEWAY_ACCT_PORT", self.accounting_port.to_string())
            .env("ADGATE_GATEWAY_DAE_PORT", self.dae_port.to_string())
            .env("ADGATE_GATEWAY_NAS_ID", NAS_IDENTIFIER);
        command
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(Lab::get().dir().join("gateway/gw/charon.log")).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let output = self.run(&["down".as_ref()]);
        if !output.status.success() {
            let failure = format!("deploy/gateway.sh down failed:\n{}", text(&output));
            if std::thread::panicking() {
                eprintln!("{failure}");
            } else {
                panic!("{failure}");
            }
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/gateway.sh")
}

/// What a login answered: `(exit code, the line it printed)`.
fn verdict(output: &Output) -> (Option<i32>, String) {
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
