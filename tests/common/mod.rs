//! What the integration tests share: the lab AD (described by `lab.env`, written by
//! `deploy/lab.sh up`) and an adgate process started for one test, with its own port, its own
//! audit directory and its own log, so tests can run in parallel and read exactly their records.
//! The tests that use the lab run inside its network namespace (`deploy/test.sh` arranges it)
//! and are `#[ignore]`d otherwise; tests that never reach a domain controller start adgate
//! against [`Lab::without_dc`] instead, and run anywhere.

#![allow(dead_code)] // each test binary uses its own subset of these helpers

pub mod mschapv2;

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use adgate_radius::{ClientOptions, RadiusClient, Response, SharedSecret};
use serde_json::Value;

/// The lab as `deploy/lab.sh up` left it.
pub struct Lab {
    dir: PathBuf,
    values: HashMap<String, String>,
}

impl Lab {
    pub fn get() -> &'static Lab {
        static LAB: OnceLock<Lab> = OnceLock::new();
        LAB.get_or_init(|| {
            let dir = PathBuf::from(
                std::env::var("ADGATE_LAB_DIR").unwrap_or_else(|_| "/var/lib/adgate-lab".into()),
            );
            let env_file = dir.join("lab.env");
            let text = std::fs::read_to_string(&env_file).unwrap_or_else(|e| {
                panic!(
                    "cannot read {}: {e}. This test needs the lab AD: run it with \
                     deploy/test.sh (or deploy/lab.sh up, then \
                     ip netns exec adgate-lab cargo test -- --include-ignored)",
                    env_file.display()
                )
            });
            let values = text
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let lab = Lab { dir, values };
            lab.assert_inside_namespace();
            lab
        })
    }

    /// A lab without its DC, for tests that never reach one (RADIUS and RadSec checks that
    /// come before any directory lookup, the audit trail's own rules, the command line): the
    /// same settings, with a shared secret, a CA and a service password made for this test
    /// binary, and a directory URL on a loopback port where nothing listens (a login that does
    /// get to the directory is refused as `directory_unavailable`). Needs no lab and no
    /// namespace.
    pub fn without_dc() -> &'static Lab {
        static WITHOUT_DC: OnceLock<Lab> = OnceLock::new();
        WITHOUT_DC.get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("without-dc-{}", env!("CARGO_CRATE_NAME")));
            std::fs::create_dir_all(&dir).expect("a directory for the stand-in files");
            let write = |name: &str, contents: &[u8]| {
                let path = dir.join(name);
                std::fs::write(&path, contents).expect("a stand-in file");
                path.display().to_string()
            };
            let ca = rcgen::generate_simple_self_signed(vec!["dc.invalid".to_owned()])
                .expect("a stand-in CA certificate");
            let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let values = [
                ("LDAP_URL", format!("ldaps://127.0.0.1:{nowhere}")),
                ("CA_FILE", write("ca.pem", ca.cert.pem().as_bytes())),
                (
                    "BIND_DN",
                    "CN=svc-adgate,CN=Users,DC=corp,DC=example,DC=test".into(),
                ),
                (
                    "BIND_PASSWORD_FILE",
                    write("ldap.secret", b"no DC to bind to"),
                ),
                ("BASE_DN", "DC=corp,DC=example,DC=test".into()),
                ("NETBIOS_DOMAIN", "CORP".into()),
                (
                    "TELEWORK_GROUP",
                    "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test".into(),
                ),
                (
                    "RADIUS_SECRET_FILE",
                    write(
                        "vpn1.secret",
                        b"a shared secret made for a test without a DC",
                    ),
                ),
                (
                    "FIXTURE_PASSWORD_FILE",
                    write("fixture.password", b"no-dc-password"),
                ),
            ];
            let values = values
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect();
            Lab { dir, values }
        })
    }

    pub fn value(&self, key: &str) -> &str {
        self.values
            .get(key)
            .unwrap_or_else(|| panic!("lab.env has no {key}"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn fixture_password(&self) -> Vec<u8> {
        std::fs::read(self.value("FIXTURE_PASSWORD_FILE")).expect("fixture password")
    }

    pub fn radius_secret_file(&self) -> PathBuf {
        PathBuf::from(self.value("RADIUS_SECRET_FILE"))
    }

    pub fn radius_secret(&self) -> Vec<u8> {
        std::fs::read(self.radius_secret_file()).expect("RADIUS secret")
    }

    /// Runs `deploy/lab.sh ARGS` (e.g. `tool user disable tdisable`, `stop`, `start`).
    pub fn lab_sh(&self, args: &[&str]) {
        if let Err(failure) = self.try_lab_sh(args) {
            panic!("{failure}");
        }
    }

    /// Like `lab_sh`, but says what failed instead of panicking (for `Drop` guards, which
    /// must not panic while a failed test unwinds).
    pub fn try_lab_sh(&self, args: &[&str]) -> Result<(), String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/lab.sh");
        let output = Command::new(&script)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "deploy/lab.sh {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }

    /// Runs `deploy/lab.sh ARGS` and returns what it printed.
    pub fn lab_sh_output(&self, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/lab.sh");
        let output = Command::new(&script)
            .args(args)
            .output()
            .expect("run lab.sh");
        assert!(output.status.success(), "deploy/lab.sh {args:?} failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// AD's `badPwdCount` for `user`: how many bad passwords AD has counted toward lockout.
    pub fn bad_pwd_count(&self, user: &str) -> u32 {
        let shown = self.lab_sh_output(&["tool", "user", "show", user]);
        shown
            .lines()
            .find_map(|line| line.strip_prefix("badPwdCount:"))
            .map(|count| count.trim().parse().expect("a number"))
            .unwrap_or(0)
    }

    fn assert_inside_namespace(&self) {
        let netns = self.value("NETNS");
        let inside = Command::new("ip")
            .args(["netns", "identify"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == netns)
            .unwrap_or(false);
        assert!(
            inside,
            "integration tests must run inside network namespace {netns}: use deploy/test.sh"
        );
    }
}

/// One adgate process serving the lab AD (or [`Lab::without_dc`]) on a port of its own.
pub struct Adgate {
    lab: &'static Lab,
    child: Child,
    dir: tempfile::TempDir,
    /// The authentication port.
    pub address: SocketAddr,
    /// The accounting port.
    pub acct_address: SocketAddr,
}

/// Runs `adgate ARGS` (e.g. `audit verify DIR`) and returns its exit code and stdout + stderr.
pub fn adgate_command(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_adgate"))
        .args(args)
        .output()
        .expect("run adgate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

impl Adgate {
    /// Starts adgate with the lab config.
    pub fn start() -> Adgate {
        Adgate::start_with(|config| config)
    }

    /// Starts adgate with the lab config as changed by `edit` (it gets the TOML text).
    pub fn start_with(edit: impl FnOnce(String) -> String) -> Adgate {
        Adgate::start_on(Lab::get(), edit)
    }

    /// Starts adgate with no domain controller to reach (see [`Lab::without_dc`]).
    pub fn start_without_dc() -> Adgate {
        Adgate::start_on(Lab::without_dc(), |config| config)
    }

    /// Starts adgate with `lab`'s config as changed by `edit`.
    pub fn start_on(lab: &'static Lab, edit: impl FnOnce(String) -> String) -> Adgate {
        Adgate::start_on_ports(lab, free_udp_port(), free_udp_port(), edit)
    }

    /// Starts adgate with the lab config as changed by `edit`, on ports of at most four digits
    /// (OpenVPN's radiusplugin cuts longer ones).
    pub fn start_on_short_ports(edit: impl FnOnce(String) -> String) -> Adgate {
        let (port, acct_port) = free_four_digit_udp_ports();
        Adgate::start_on_ports(Lab::get(), port, acct_port, edit)
    }

    fn start_on_ports(
        lab: &'static Lab,
        port: u16,
        acct_port: u16,
        edit: impl FnOnce(String) -> String,
    ) -> Adgate {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = edit(lab_config(lab, port, acct_port, &dir.path().join("audit")));
        std::fs::write(dir.path().join("adgate.toml"), config).expect("write config");
        let child = spawn_serve(dir.path());
        let mut adgate = Adgate {
            lab,
            child,
            dir,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            acct_address: SocketAddr::from(([127, 0, 0, 1], acct_port)),
        };
        adgate.wait_until_listening();
        adgate
    }

    /// The audit directory (`audit.dir`).
    pub fn audit_dir(&self) -> PathBuf {
        self.dir.path().join("audit")
    }

    /// Stops adgate as an admin would (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        self.signal("TERM");
        let exit = self.child.wait().expect("wait for adgate");
        assert!(exit.success(), "adgate exited with {exit}:\n{}", self.log());
    }

    /// Sends `signal` (`TERM`, `HUP`, …) to adgate with kill(1), as an admin or systemd would.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// adgate's exit status, if it exits within `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll adgate") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// adgate's process id, to read its memory and threads in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The control socket `adgate sessions` talks to.
    pub fn control_socket(&self) -> PathBuf {
        self.dir.path().join("control.sock")
    }

    /// The config file adgate was started with (a test may rewrite it, then send `HUP`).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("adgate.toml")
    }

    /// Kills adgate with SIGKILL (a crash) and waits for it to be gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9 adgate");
        let _ = self.child.wait();
    }

    /// Starts adgate again with the same config and audit directory (after `stop` or `kill`).
    pub fn restart(&mut self) {
        self.child = spawn_serve(self.dir.path());
        self.wait_until_listening();
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.log().contains("adgate serving") {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll adgate") {
                panic!("adgate exited with {status}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("adgate did not start listening in time:\n{}", self.log());
    }

    /// Everything adgate logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("adgate.log")).unwrap_or_default()
    }

    /// Every audit record about requests written so far, in order: the gateway's own
    /// `config` records (one at every start and reload) are left out, see `config_records`.
    pub fn records(&self) -> Vec<Value> {
        self.all_records()
            .into_iter()
            .filter(|record| record["type"] != "config")
            .collect()
    }

    /// The `config` records written so far, in order.
    pub fn config_records(&self) -> Vec<Value> {
        self.all_records()
            .into_iter()
            .filter(|record| record["type"] == "config")
            .collect()
    }

    /// Every record in the open segment, in order.
    pub fn all_records(&self) -> Vec<Value> {
        let path = self.dir.path().join("audit/audit.jsonl");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("a record is one JSON object"))
            .collect()
    }

    /// Raw text of the audit trail, for checks that no secret reached it.
    pub fn trail_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit/audit.jsonl")).unwrap_or_default()
    }

    /// Waits until at least `count` records exist (discards are recorded after the datagram
    /// is dropped, so nothing on the wire says when they are there).
    pub fn wait_for_records(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let records = self.records();
            if records.len() >= count || Instant::now() > deadline {
                return records;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A simulated NAS that signs its requests with Message-Authenticator.
    pub fn nas(&self) -> RadiusClient {
        self.nas_with(true, self.lab.radius_secret())
    }

    pub fn nas_with(&self, message_authenticator: bool, secret: Vec<u8>) -> RadiusClient {
        self.nas_to(self.address, message_authenticator, secret)
    }

    /// A simulated NAS sending to the accounting port.
    pub fn accounting_nas(&self) -> RadiusClient {
        self.nas_to(self.acct_address, true, self.lab.radius_secret())
    }

    /// A simulated NAS sending to `server` (either port) with `secret`.
    pub fn nas_to(
        &self,
        server: SocketAddr,
        message_authenticator: bool,
        secret: Vec<u8>,
    ) -> RadiusClient {
        let options = ClientOptions {
            timeout: Duration::from_secs(6),
            retries: 0,
            send_message_authenticator: message_authenticator,
            nas_identifier: Some("test-nas".into()),
        };
        RadiusClient::new(server, SharedSecret::new(secret), options).expect("NAS socket")
    }

    /// Sends `datagram` from `socket` to the authentication port and returns the answer.
    pub fn exchange_raw(&self, socket: &UdpSocket, datagram: &[u8]) -> Vec<u8> {
        socket.send_to(datagram, self.address).expect("send");
        socket
            .set_read_timeout(Some(Duration::from_secs(6)))
            .expect("timeout");
        let mut buffer = vec![0; 4096];
        let (length, _) = socket.recv_from(&mut buffer).expect("an answer");
        buffer.truncate(length);
        buffer
    }

    /// Logs `user` in with the fixture password and returns the answer's code (for tests that
    /// look at the trail some other way, or expect no record).
    pub async fn login(&self, user: &str) -> adgate_radius::ResponseCode {
        self.nas()
            .pap(user.as_bytes(), &self.lab.fixture_password())
            .await
            .unwrap_or_else(|e| panic!("login of {user:?} got no valid answer: {e}"))
            .code
    }

    /// Sends a PAP login and returns the answer with the record it produced.
    pub async fn pap(&self, user: &str, password: &[u8]) -> (Response, Value) {
        let response = self
            .nas()
            .pap(user.as_bytes(), password)
            .await
            .unwrap_or_else(|e| panic!("login of {user:?} got no valid answer: {e}"));
        let record = self
            .records()
            .into_iter()
            .rev()
            .find(|r| r["user_name"] == user)
            .unwrap_or_else(|| panic!("no audit record for {user:?}"));
        (response, record)
    }

    /// Sends a PAP login from the station `calling_station_id` and returns the answer with the
    /// record it produced.
    pub async fn pap_from(
        &self,
        calling_station_id: &str,
        user: &str,
        password: &[u8],
    ) -> (Response, Value) {
        let response = self
            .nas()
            .pap_from(calling_station_id, user.as_bytes(), password)
            .await
            .unwrap_or_else(|e| panic!("login of {user:?} got no valid answer: {e}"));
        let record = self
            .records()
            .into_iter()
            .rev()
            .find(|r| r["user_name"] == user && r["calling_station_id"] == calling_station_id)
            .unwrap_or_else(|| panic!("no audit record for {user:?} from {calling_station_id}"));
        (response, record)
    }
}

/// Starts `adgate serve` with the config in `dir`, logging to `dir/adgate.log` (truncated).
fn spawn_serve(dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("adgate.log")).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_adgate"))
        .args(["serve", "--config"])
        .arg(dir.join("adgate.toml"))
        .env("ADGATE_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start adgate")
}

impl Drop for Adgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lab's adgate.toml settings, on `port`, with the trail in `audit_dir`.
pub fn lab_config(lab: &Lab, port: u16, acct_port: u16, audit_dir: &Path) -> String {
    format!(
        r#"[server]
auth_listen = ["127.0.0.1:{port}"]
acct_listen = ["127.0.0.1:{acct_port}"]

[[clients]]
name = "vpn1"
address = "127.0.0.0/8"
secret_file = "{secret_file}"
require_message_authenticator = true

[directory]
urls = ["{url}"]
ca_file = "{ca_file}"
bind_dn = "{bind_dn}"
bind_password_file = "{bind_password_file}"
base_dn = "{base_dn}"
netbios_domain = "{netbios}"
timeout_ms = 3000

[policy]
telework_group = "{group}"

[sessions]
control_socket = "{control_socket}"

# The periodic AD checks stay off unless a test turns them on: their records and searches
# would come at moments no test chose.
[oversight]
ad_check_interval_s = 0

[audit]
dir = "{audit_dir}"
"#,
        secret_file = lab.value("RADIUS_SECRET_FILE"),
        url = lab.value("LDAP_URL"),
        ca_file = lab.value("CA_FILE"),
        bind_dn = lab.value("BIND_DN"),
        bind_password_file = lab.value("BIND_PASSWORD_FILE"),
        base_dn = lab.value("BASE_DN"),
        netbios = lab.value("NETBIOS_DOMAIN"),
        group = lab.value("TELEWORK_GROUP"),
        audit_dir = audit_dir.display(),
        control_socket = audit_dir.with_file_name("control.sock").display(),
    )
}

/// The lab config with Access-Rejects sent as soon as decided (`server.reject_delay_ms = 0`),
/// for tests that time how long the directory takes to refuse a login.
pub fn without_reject_delay(config: String) -> String {
    config.replacen("[server]\n", "[server]\nreject_delay_ms = 0\n", 1)
}

/// The lab config with MS-CHAPv2 on, through the lab's domain member (`deploy/lab.sh`).
pub fn with_mschapv2(config: String) -> String {
    let lab = Lab::get();
    format!(
        "{config}\n[mschapv2]\nsmb_conf = \"{}\"\nntlm_auth = [\"{}\"]\n",
        lab.value("MEMBER_SMB_CONF"),
        lab.value("NTLM_AUTH")
    )
}

/// The Class attribute (RFC 2865 §5.25) of an Access-Accept: what the NAS echoes in its
/// accounting to name the decision.
pub fn class_of(accept: &Response) -> Vec<u8> {
    const CLASS: u8 = 25;
    accept
        .attributes
        .iter()
        .find(|(attribute_type, _)| *attribute_type == CLASS)
        .map(|(_, value)| value.clone())
        .expect("the Access-Accept carries a Class")
}

/// Two UDP ports from 2000 to 9999 nothing listens on now, tried from a point that differs per
/// process and per call, so that tests running at once rarely try the same ones.
pub fn free_four_digit_udp_ports() -> (u16, u16) {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = (std::process::id() + call * 97) % 8000;
    let mut free = (0..8000)
        .map(|step| 2000 + ((start + step) % 8000) as u16)
        .filter_map(|port| UdpSocket::bind(("127.0.0.1", port)).ok());
    let first = free.next().expect("a free four-digit port");
    let second = free.next().expect("a second free four-digit port");
    (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    )
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

/// Runs a restoring `deploy/lab.sh` command from a `Drop` guard: panics on failure in a passing
/// test, only reports it in a failing one (a second panic while unwinding would abort the run).
pub fn restore_or_report(args: &[&str]) {
    if let Err(failure) = Lab::get().try_lab_sh(args) {
        if std::thread::panicking() {
            eprintln!("could not restore the lab: {failure}");
        } else {
            panic!("{failure}");
        }
    }
}

/// A TCP port nothing listens on now.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `GET path` over HTTP/1.1, as curl or a probe would: the status code and the body.
pub fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    http_get_accepting(address, path, "*/*")
}

/// `GET path` with an `Accept` header, as Prometheus sends one: the status code and the body.
pub fn http_get_accepting(address: SocketAddr, path: &str, accept: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the metrics port");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: {accept}\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    (status, body.to_owned())
}

/// Adgate with the lab config plus `[metrics] listen` on a port of its own, and that address.
pub fn start_with_metrics(edit: impl FnOnce(String) -> String) -> (Adgate, SocketAddr) {
    start_with_metrics_on(Lab::get(), edit)
}

/// Like [`start_with_metrics`], with `lab`'s config.
pub fn start_with_metrics_on(
    lab: &'static Lab,
    edit: impl FnOnce(String) -> String,
) -> (Adgate, SocketAddr) {
    let address = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
    let adgate = Adgate::start_on(lab, |config| {
        edit(format!("{config}\n[metrics]\nlisten = \"{address}\"\n"))
    });
    (adgate, address)
}

/// Runs FreeRADIUS' radclient for `command` (`auth`, `acct`, `status`) at `server` with
/// `attributes` and returns what it printed.
pub fn radclient(server: SocketAddr, command: &str, attributes: &str) -> String {
    let mut child = Command::new("radclient")
        .args(["-x", "-r", "1", "-t", "4", "-S"])
        .arg(Lab::get().radius_secret_file())
        .arg(server.to_string())
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("radclient (freeradius-utils) is installed by deploy/lab.sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(attributes.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
