//! The OpenVPN gateway for integration tests: `deploy/gateway-openvpn.sh` runs an OpenVPN 2.6
//! server whose radiusplugin asks adgate, and an OpenVPN client to log in with. One gateway per
//! lab: tests take turns, and each takes it down again when done, also when it fails.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use crate::common::{Adgate, Lab};

/// What the server calls itself in RADIUS (NAS-Identifier).
pub const NAS_IDENTIFIER: &str = "openvpn-gw";
/// Where the server's management interface listens, on 127.0.0.1 in the lab namespace.
pub const MANAGEMENT_PORT: u16 = 7505;

static GATEWAY_IN_USE: Mutex<()> = Mutex::new(());

/// The OpenVPN server and client, pointed at one adgate; taken down again on drop.
pub struct OpenVpnGateway {
    radius_port: u16,
    accounting_port: u16,
    management_password_file: Option<PathBuf>,
    _turn: MutexGuard<'static, ()>,
}

impl OpenVpnGateway {
    /// Waits for its turn, then brings the server up for `adgate` (whose ports must have at
    /// most four digits: `Adgate::start_on_short_ports`).
    pub fn up(adgate: &Adgate) -> OpenVpnGateway {
        OpenVpnGateway::up_with_management_password(adgate, None)
    }

    /// As `up`, with the management interface's password in `password_file` (adgate's
    /// `[clients.disconnect] password_file`), not a random one.
    pub fn up_with_management_password(
        adgate: &Adgate,
        password_file: Option<&Path>,
    ) -> OpenVpnGateway {
        let turn = GATEWAY_IN_USE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let gateway = OpenVpnGateway {
            radius_port: adgate.address.port(),
            accounting_port: adgate.acct_address.port(),
            management_password_file: password_file.map(Path::to_owned),
            _turn: turn,
        };
        let output = gateway.run(&["up".as_ref()]);
        assert!(
            output.status.success(),
            "deploy/gateway-openvpn.sh up failed:\n{}",
            text(&output)
        );
        gateway
    }

    /// Logs `user` in, pings through the tunnel and closes it: `(exit code, what it printed)`.
    pub fn login(&self, user: &str, password_file: &Path) -> (Option<i32>, String) {
        verdict(&self.run(&["login".as_ref(), user.as_ref(), password_file.as_os_str()]))
    }

    /// As `login`, but the tunnel stays up.
    pub fn connect(&self, user: &str, password_file: &Path) -> (Option<i32>, String) {
        verdict(&self.run(&["connect".as_ref(), user.as_ref(), password_file.as_os_str()]))
    }

    /// The common names of the clients connected to the server now.
    pub fn clients(&self) -> Vec<String> {
        let output = self.run(&["clients".as_ref()]);
        assert!(output.status.success(), "clients: {}", text(&output));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn log(&self) -> String {
        let dir = Lab::get().dir().join("gateway-openvpn");
        [
            "server/openvpn.log",
            "client/openvpn.log",
            "client/openvpn.out",
        ]
        .iter()
        .map(|log| std::fs::read_to_string(dir.join(log)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n---- client ----\n")
    }

    fn run(&self, args: &[&OsStr]) -> Output {
        let lab = Lab::get();
        let mut command = Command::new(script());
        if let Some(file) = &self.management_password_file {
            command.env("ADGATE_OPENVPN_MANAGEMENT_PASSWORD_FILE", file);
        }
        command
            .args(args)
            .env("ADGATE_LAB_DIR", lab.dir())
            .env("ADGATE_LAB_NETNS", lab.value("NETNS"))
            .env("ADGATE_GATEWAY_RADIUS_PORT", self.radius_port.to_string())
            .env("ADGATE_GATEWAY_ACCT_PORT", self.accounting_port.to_string())
            .env(
                "ADGATE_OPENVPN_MANAGEMENT_PORT",
                MANAGEMENT_PORT.to_string(),
            )
            .env("ADGATE_OPENVPN_NAS_ID", NAS_IDENTIFIER)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()))
    }
}

impl Drop for OpenVpnGateway {
    fn drop(&mut self) {
        let output = self.run(&["down".as_ref()]);
        if !output.status.success() {
            let failure = format!("deploy/gateway-openvpn.sh down failed:\n{}", text(&output));
            if std::thread::panicking() {
                eprintln!("{failure}");
            } else {
                panic!("{failure}");
            }
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/gateway-openvpn.sh")
}

/// What a login answered: `(exit code, the line it printed)`; why there was no verdict goes to
/// the test's output.
fn verdict(output: &Output) -> (Option<i32>, String) {
    if output.status.code() == Some(2) {
        eprintln!("no verdict: {}", String::from_utf8_lossy(&output.stderr));
    }
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
