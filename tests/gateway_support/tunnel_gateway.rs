//! The TLS-VPN gateways for integration tests: `deploy/gateway-openvpn.sh` runs an OpenVPN 2.6
//! server whose radiusplugin asks adgate, `deploy/gateway-ocserv.sh` an ocserv whose radcli
//! does, `deploy/gateway-softether.sh` a SoftEther VPN Server whose hub does; each with its own client, namespace and tunnel network, so their tests can run at
//! once. One gateway of a kind per lab: tests take turns, and each takes it down again when
//! done, also when it fails.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{adgate_command, restore_or_report, Adgate, Lab};

/// Where the OpenVPN server's management interface listens, on 127.0.0.1 in the lab namespace.
pub const MANAGEMENT_PORT: u16 = 7505;

/// Where ocserv takes occtl's commands (its `occtl-socket-file`, written by gateway-ocserv.sh).
pub fn ocserv_occtl_socket() -> PathBuf {
    Lab::get().dir().join("gateway-ocserv/server/occtl.socket")
}

/// Which VPN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OpenVpn,
    Ocserv,
    SoftEther,
}

impl Kind {
    /// What the server calls itself in RADIUS (NAS-Identifier).
    pub fn nas_identifier(self) -> &'static str {
        match self {
            Kind::OpenVpn => "openvpn-gw",
            Kind::Ocserv => "ocserv-gw",
            // Not configurable in SoftEther: its edition's name.
            Kind::SoftEther => "SoftEther VPN Server Developer Edition",
        }
    }

    fn script(self) -> PathBuf {
        let name = match self {
            Kind::OpenVpn => "deploy/gateway-openvpn.sh",
            Kind::Ocserv => "deploy/gateway-ocserv.sh",
            Kind::SoftEther => "deploy/gateway-softether.sh",
        };
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    }

    fn turn(self) -> MutexGuard<'static, ()> {
        static OPENVPN_IN_USE: Mutex<()> = Mutex::new(());
        static OCSERV_IN_USE: Mutex<()> = Mutex::new(());
        static SOFTETHER_IN_USE: Mutex<()> = Mutex::new(());
        let in_use = match self {
            Kind::OpenVpn => &OPENVPN_IN_USE,
            Kind::Ocserv => &OCSERV_IN_USE,
            Kind::SoftEther => &SOFTETHER_IN_USE,
        };
        in_use
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The logs of server and client.
    fn logs(self) -> &'static [&'static str] {
        match self {
            Kind::OpenVpn => &[
                "gateway-openvpn/server/openvpn.log",
                "gateway-openvpn/client/openvpn.log",
                "gateway-openvpn/client/openvpn.out",
            ],
            Kind::Ocserv => &[
                "gateway-ocserv/server/ocserv.log",
                "gateway-ocserv/client/openconnect.log",
            ],
            Kind::SoftEther => &[
                "gateway-softether/server/vpnserver.out",
                "gateway-softether/client/openvpn.log",
            ],
        }
    }
}

/// A VPN server and its client, pointed at one adgate; taken down again on drop.
pub struct TunnelGateway {
    kind: Kind,
    radius_port: u16,
    accounting_port: u16,
    admin_password_file: Option<PathBuf>,
    _turn: MutexGuard<'static, ()>,
}

impl TunnelGateway {
    /// Waits for its turn, then brings the server up for `adgate` (for OpenVPN, its ports must
    /// have at most four digits: `Adgate::start_on_short_ports`).
    pub fn up(kind: Kind, adgate: &Adgate) -> TunnelGateway {
        TunnelGateway::up_with_admin_password(kind, adgate, None)
    }

    /// As `up`, with the password adgate's `[clients.disconnect] password_file` holds in
    /// `password_file`, not a random one: OpenVPN's management interface's, or the SoftEther
    /// hub administrator's.
    pub fn up_with_admin_password(
        kind: Kind,
        adgate: &Adgate,
        password_file: Option<&Path>,
    ) -> TunnelGateway {
        let turn = kind.turn();
        let gateway = TunnelGateway {
            kind,
            radius_port: adgate.address.port(),
            accounting_port: adgate.acct_address.port(),
            admin_password_file: password_file.map(Path::to_owned),
            _turn: turn,
        };
        let output = gateway.run(&["up".as_ref()]);
        assert!(
            output.status.success(),
            "{} up failed:\n{}",
            kind.script().display(),
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

    /// Connects `user` (see `connect`) and asserts the tunnel is up and the server lists them.
    pub fn assert_connects(&self, user: &str) {
        let (code, said) = self.connect(user, &password_file());
        assert_eq!(
            (code, said),
            (Some(0), format!("{user}: tunnel up")),
            "{}",
            self.log()
        );
        assert_eq!(self.clients(), [user]);
    }

    /// Waits up to `limit` for the server to list no user, and returns how long that took;
    /// fails with both logs when someone is still connected.
    pub fn assert_emptied_within(&self, limit: Duration, adgate: &Adgate) -> Duration {
        wait_until(limit, || self.clients().is_empty()).unwrap_or_else(|| {
            panic!(
                "still connected: {:?}\n{}\nadgate log:\n{}",
                self.clients(),
                self.log(),
                adgate.log()
            )
        })
    }

    /// The users connected to the server now (OpenVPN: their common names).
    pub fn clients(&self) -> Vec<String> {
        let command = match self.kind {
            Kind::OpenVpn => "clients",
            Kind::Ocserv => "users",
            Kind::SoftEther => "sessions",
        };
        let output = self.run(&[command.as_ref()]);
        assert!(output.status.success(), "clients: {}", text(&output));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Whether the tunnel `connect` left up still passes a ping (ocserv's client only).
    pub fn tunnel_up(&self) -> bool {
        assert_eq!(self.kind, Kind::Ocserv, "only gateway-ocserv.sh tells");
        let output = self.run(&["tunnel".as_ref()]);
        assert!(output.status.success(), "tunnel: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).trim() == "tunnel up"
    }

    /// SoftEther: the SHA-256 of the server's certificate, as openssl prints it (adgate's
    /// `server_certificate_sha256`).
    pub fn certificate_sha256(&self) -> String {
        let output = self.run(&["fingerprint".as_ref()]);
        assert!(output.status.success(), "fingerprint: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The logs of server and client.
    pub fn log(&self) -> String {
        let dir = Lab::get().dir();
        self.kind
            .logs()
            .iter()
            .map(|log| {
                let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
                format!("---- {log} ----\n{text}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn run(&self, args: &[&OsStr]) -> Output {
        let lab = Lab::get();
        let mut command = Command::new(self.kind.script());
        if let Some(file) = &self.admin_password_file {
            command
                .env("ADGATE_OPENVPN_MANAGEMENT_PASSWORD_FILE", file)
                .env("ADGATE_SOFTETHER_HUB_PASSWORD_FILE", file);
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
            .env("ADGATE_OPENVPN_NAS_ID", Kind::OpenVpn.nas_identifier())
            .env("ADGATE_OCSERV_NAS_ID", Kind::Ocserv.nas_identifier())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.kind.script().display()))
    }
}

impl Drop for TunnelGateway {
    fn drop(&mut self) {
        let output = self.run(&["down".as_ref()]);
        if !output.status.success() {
            let failure = format!(
                "{} down failed:\n{}",
                self.kind.script().display(),
                text(&output)
            );
            if std::thread::panicking() {
                eprintln!("{failure}");
            } else {
                panic!("{failure}");
            }
        }
    }
}

/// Connects `user` and leaves the tunnel up; asserts it came up, the server lists only them,
/// and adgate recorded their Accounting-Start (the session it may cut).
pub fn assert_connected(gateway: &TunnelGateway, adgate: &Adgate, user: &str) {
    gateway.assert_connects(user);
    wait_until(Duration::from_secs(5), || {
        adgate.records().iter().any(|r| {
            r["type"] == "accounting"
                && r["user_name"] == user
                && r["accounting"]["status_type"] == "start"
        })
    })
    .unwrap_or_else(|| panic!("no Accounting-Start:\n{}", adgate.log()));
}

/// Asserts the trail holds the acknowledged cut of `user`'s session for leaving telework, then
/// the server's Accounting-Stop, and still verifies; returns the `disconnect` record.
pub fn assert_cut_off_telework(adgate: &Adgate, user: &str) -> Value {
    let record = adgate
        .records()
        .into_iter()
        .find(|r| r["type"] == "disconnect")
        .unwrap_or_else(|| panic!("no disconnect record:\n{}", adgate.log()));
    assert_eq!(record["reason"], "telework_off", "{record}");
    assert_eq!(record["result"], "ack", "{record}");
    assert_eq!(record["session"]["user_name"], user, "{record}");
    let stop = start_and_stop(adgate, user);
    assert_eq!(
        stop.last().map(|r| &r["accounting"]["status_type"]),
        Some(&Value::from("stop")),
        "{stop:?}"
    );
    let (code, output) = adgate_command(&[
        "audit".as_ref(),
        "verify".as_ref(),
        adgate.audit_dir().as_os_str(),
    ]);
    assert_eq!(code, 0, "audit verify:\n{output}");
    record
}

/// `user` taken out of the telework group in AD, and put back when dropped, also when the test
/// fails.
pub struct OffTelework(&'static str);

impl OffTelework {
    pub fn take(user: &'static str) -> OffTelework {
        Lab::get().lab_sh(&["tool", "group", "removemembers", "Telework-Allowed", user]);
        OffTelework(user)
    }
}

impl Drop for OffTelework {
    fn drop(&mut self) {
        restore_or_report(&["tool", "group", "addmembers", "Telework-Allowed", self.0]);
    }
}

/// The fixture users' password.
pub fn password_file() -> PathBuf {
    PathBuf::from(Lab::get().value("FIXTURE_PASSWORD_FILE"))
}

/// The last access decision about `user`.
pub fn decision_for(adgate: &Adgate, user: &str) -> Value {
    adgate
        .records()
        .into_iter()
        .rev()
        .find(|r| r["type"] == "decision" && r["user_name"] == user)
        .unwrap_or_else(|| panic!("no decision for {user:?}:\n{}", adgate.log()))
}

/// Polls `done` every 100 ms until it holds (how long it took) or `limit` passes (`None`).
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() <= limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// `user`'s accounting records, once there is a Start and a Stop (or 10 s have passed).
pub fn start_and_stop(adgate: &Adgate, user: &str) -> Vec<Value> {
    let accounting = || -> Vec<Value> {
        adgate
            .records()
            .into_iter()
            .filter(|r| r["type"] == "accounting" && r["user_name"] == user)
            .collect()
    };
    wait_until(Duration::from_secs(10), || {
        accounting()
            .iter()
            .any(|r| r["accounting"]["status_type"] == "stop")
    });
    accounting()
}

/// Logs in the telework members — alice, and grace, a member only through Developers nested in
/// the telework group — and asserts each gets a tunnel that passes a ping ("tunnel up") and an
/// accept from this gateway, which never signs its requests; returns their decision records.
pub fn assert_members_get_tunnels(gateway: &TunnelGateway, adgate: &Adgate) -> Vec<Value> {
    ["alice", "grace"]
        .into_iter()
        .map(|member| {
            let (code, said) = gateway.login(member, &password_file());
            assert_eq!(
                (code, said),
                (Some(0), format!("{member}: tunnel up")),
                "{}\nadgate log:\n{}",
                gateway.log(),
                adgate.log()
            );
            let record = decision_for(adgate, member);
            assert_eq!(record["verdict"], "accept", "{record}");
            assert_eq!(record["message_authenticator"], false, "{record}");
            assert_eq!(
                record["nas"]["nas_identifier"],
                gateway.kind.nas_identifier(),
                "{record}"
            );
            record
        })
        .collect()
}

/// frank (not on telework), bob (disabled) and alice with a wrong password get no tunnel, each
/// with its reason in the trail.
pub fn assert_others_are_kept_out(gateway: &TunnelGateway, adgate: &Adgate) {
    assert_refused(gateway, adgate, "frank", "telework_off");
    assert_refused(gateway, adgate, "bob", "account_disabled");
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), "not-the-password\n").unwrap();
    let (code, said) = gateway.login("alice", wrong.path());
    assert_eq!((code, said), (Some(1), "alice: refused".to_owned()));
    assert_eq!(decision_for(adgate, "alice")["reason"], "bad_password");
}

fn assert_refused(gateway: &TunnelGateway, adgate: &Adgate, user: &str, reason: &str) {
    let (code, said) = gateway.login(user, &password_file());
    assert_eq!(
        (code, said),
        (Some(1), format!("{user}: refused")),
        "{}",
        gateway.log()
    );
    let record = decision_for(adgate, user);
    assert_eq!(record["verdict"], "reject", "{record}");
    assert_eq!(record["reason"], reason, "{record}");
    assert_eq!(
        record["nas"]["nas_identifier"],
        gateway.kind.nas_identifier(),
        "{record}"
    );
}

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
