//! Cut off in AD, cut off on the VPN: a tunnel that is up ends within seconds when an admin
//! disables its user, takes them off telework (directly or through a nested group), lets the
//! account expire or restricts its logon hours — and only then. A lockout, an unrelated change
//! or a DC outage cuts nothing. The gateway is real (strongSwan with RFC 5176 DAE), AD is the
//! lab's Samba DC, and every cut is a record in the trail.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod eap_support;
mod gateway_support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use adgate_certs::test_pki::UserCertificate;
use adgate_radius::{DasBehaviour, SharedSecret, SimulatedDas};
use base64::Engine;
use common::{adgate_command, free_udp_port, restore_or_report, Adgate, Lab};
use eap_support::{Credential, TestPki};
use gateway_support::Gateway;
use serde_json::Value;

/// The policy's promise: a tunnel ends within this of the admin's change.
const CUT_WITHIN: Duration = Duration::from_secs(10);
/// Long enough for two re-checks and a change notification, to show nothing was cut.
const NOTHING_HAPPENS_FOR: Duration = Duration::from_secs(12);

/// Puts a fixture back when dropped, also when the test fails half-way.
struct Restore(Vec<String>);

impl Restore {
    fn tool(args: &[&str]) -> Restore {
        let mut all = vec!["tool".to_owned()];
        all.extend(args.iter().map(|arg| (*arg).to_owned()));
        Restore(all)
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let args: Vec<&str> = self.0.iter().map(String::as_str).collect();
        restore_or_report(&args);
    }
}

fn samba_tool(args: &[&str]) {
    let mut all = vec!["tool"];
    all.extend_from_slice(args);
    Lab::get().lab_sh(&all);
}

/// adgate for the gateway: the lab's client entry takes Disconnect-Requests on `dae_port`,
/// live sessions re-checked every 5 s.
fn adgate_with_dae(dae_port: u16, extra: &str) -> Adgate {
    Adgate::start_with(|config| {
        config.replacen(
            "require_message_authenticator = true\n",
            &format!(
                "require_message_authenticator = true\n\n[clients.disconnect]\naddress = \
                 \"127.0.0.1:{dae_port}\"\n"
            ),
            1,
        ) + extra
    })
}

/// adgate with certificate logins, the gateway, and `user`'s tunnel up with a certificate that
/// names `identity` (its UPN).
struct CertificateTunnel {
    pki: TestPki,
    certificate: Credential,
    adgate: Adgate,
    gateway: Gateway,
}

impl CertificateTunnel {
    fn up(user: &str, identity: &str) -> CertificateTunnel {
        let pki = TestPki::new();
        let dae_port = free_udp_port();
        // strongSwan 5.9's EAP-TLS client speaks TLS 1.2 without the extended master secret.
        let adgate = adgate_with_dae(
            dae_port,
            &pki.eap_tls_section("tls12_require_extended_master_secret = false"),
        );
        let gateway = Gateway::up_with_dae(&adgate, dae_port);
        let certificate = pki.issue(&pki.ca, user, &UserCertificate::named(user).upn(identity));
        let (code, said) = gateway.connect_with_certificate(&pki, &certificate);
        assert_eq!(
            (code, said),
            (Some(0), format!("{identity}: tunnel up (kept)")),
            "{}",
            adgate.log()
        );
        wait_for_session(&adgate, identity);
        CertificateTunnel {
            pki,
            certificate,
            adgate,
            gateway,
        }
    }
}

fn password_file() -> PathBuf {
    PathBuf::from(Lab::get().value("FIXTURE_PASSWORD_FILE"))
}

fn connect(gateway: &Gateway, adgate: &Adgate, user: &str) {
    let (code, said) = gateway.connect(user, &password_file());
    assert_eq!(
        (code, said.clone()),
        (Some(0), format!("{user}: tunnel up (kept)")),
        "gateway log:\n{}\nadgate log:\n{}",
        gateway.log(),
        adgate.log()
    );
    wait_for_session(adgate, user);
}

/// Waits until adgate has recorded the Accounting-Start of `user`'s session.
fn wait_for_session(adgate: &Adgate, user: &str) {
    wait_until(Duration::from_secs(5), || {
        adgate.records().iter().any(|r| {
            r["type"] == "accounting"
                && r["user_name"] == user
                && r["accounting"]["status_type"] == "start"
        })
    })
    .unwrap_or_else(|| panic!("no Accounting-Start for {user}:\n{}", adgate.log()));
}

/// Polls `done` every 100 ms until it holds (how long it took) or `limit` passes (`None`).
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() <= limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Waits for `identity`'s tunnel to be gone from the gateway; prints and returns how long.
fn assert_cut_within(gateway: &Gateway, adgate: &Adgate, identity: &str, what: &str) -> Duration {
    let took = wait_until(CUT_WITHIN, || {
        !gateway.tunnels().iter().any(|t| t == identity)
    })
    .unwrap_or_else(|| {
        panic!(
            "{identity}'s tunnel still up {CUT_WITHIN:?} after {what}\ntunnels: {:?}\nadgate \
                 log:\n{}\ngateway log:\n{}",
            gateway.tunnels(),
            adgate.log(),
            gateway.log()
        )
    });
    println!("{what}: {identity}'s tunnel cut after {took:?}");
    took
}

fn disconnects(adgate: &Adgate) -> Vec<Value> {
    adgate
        .records()
        .into_iter()
        .filter(|r| r["type"] == "disconnect")
        .collect()
}

/// The disconnect record of `user`'s session, waited for (it is written once the NAS answers).
fn disconnect_record(adgate: &Adgate, user: &str) -> Value {
    let mut found = None;
    wait_until(Duration::from_secs(5), || {
        found = disconnects(adgate)
            .into_iter()
            .find(|r| r["session"]["user_name"] == user);
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no disconnect record for {user}:\n{}", adgate.log()))
}

fn assert_trail_verifies(adgate: &Adgate) {
    let (code, output) = adgate_command(&[
        "audit".as_ref(),
        "verify".as_ref(),
        adgate.audit_dir().as_os_str(),
    ]);
    assert_eq!(code, 0, "audit verify:\n{output}");
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_tunnel_ends_within_seconds_when_its_user_leaves_the_telework_group() {
    let dae_port = free_udp_port();
    let adgate = adgate_with_dae(dae_port, "");
    let gateway = Gateway::up_with_dae(&adgate, dae_port);
    connect(&gateway, &adgate, "tgroup");

    let _back = Restore::tool(&["group", "addmembers", "Telework-Allowed", "tgroup"]);
    samba_tool(&["group", "removemembers", "Telework-Allowed", "tgroup"]);
    assert_cut_within(
        &gateway,
        &adgate,
        "tgroup",
        "telework removal (password login)",
    );

    let record = disconnect_record(&adgate, "tgroup");
    assert_eq!(record["reason"], "telework_off", "{record}");
    assert_eq!(record["result"], "ack", "{record}");
    assert_eq!(record["account"]["sam_account_name"], "tgroup", "{record}");
    assert_eq!(record["session"]["client"], "vpn1", "{record}");
    assert!(record["session"]["session_id"].is_string(), "{record}");
    assert_eq!(
        record["sent_to"],
        format!("127.0.0.1:{dae_port}"),
        "{record}"
    );
    assert!(record.get("requested_by").is_none(), "{record}");
    assert_trail_verifies(&adgate);
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_certificate_tunnel_ends_when_its_user_is_disabled() {
    let identity = "tdisable@corp.example.test";
    // Every part bound: the PKI's files must outlive adgate and the gateway.
    let CertificateTunnel {
        pki: _pki,
        certificate: _certificate,
        adgate,
        gateway,
    } = CertificateTunnel::up("tdisable", identity);

    let _enabled = Restore::tool(&["user", "enable", "tdisable"]);
    samba_tool(&["user", "disable", "tdisable"]);
    assert_cut_within(
        &gateway,
        &adgate,
        identity,
        "account disabled (certificate login)",
    );
    let record = disconnect_record(&adgate, identity);
    assert_eq!(record["reason"], "account_disabled", "{record}");
    assert_eq!(record["result"], "ack", "{record}");
    assert_trail_verifies(&adgate);
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn an_expired_account_or_a_group_taken_out_of_the_nested_chain_ends_its_tunnels() {
    let dae_port = free_udp_port();
    let adgate = adgate_with_dae(dae_port, "");
    let gateway = Gateway::up_with_dae(&adgate, dae_port);

    connect(&gateway, &adgate, "tgroup");
    let _never_expires = Restore::tool(&["user", "setexpiry", "tgroup", "--noexpiry"]);
    samba_tool(&["user", "setexpiry", "tgroup", "--days=0"]);
    assert_cut_within(&gateway, &adgate, "tgroup", "account expiry set to now");
    assert_eq!(
        disconnect_record(&adgate, "tgroup")["reason"],
        "account_expired"
    );

    // grace is in Telework-Allowed only through Developers.
    connect(&gateway, &adgate, "grace");
    let _nested_again = Restore::tool(&["group", "addmembers", "Telework-Allowed", "Developers"]);
    samba_tool(&["group", "removemembers", "Telework-Allowed", "Developers"]);
    assert_cut_within(
        &gateway,
        &adgate,
        "grace",
        "nested group removed from the chain",
    );
    assert_eq!(
        disconnect_record(&adgate, "grace")["reason"],
        "telework_off"
    );
    assert_trail_verifies(&adgate);
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_lockout_or_an_unrelated_change_cuts_nothing() {
    let lab = Lab::get();
    let dae_port = free_udp_port();
    let adgate = adgate_with_dae(dae_port, "");
    let gateway = Gateway::up_with_dae(&adgate, dae_port);
    connect(&gateway, &adgate, "lockme");
    connect(&gateway, &adgate, "alice");

    // A guesser locks lockme out with wrong passwords from elsewhere (straight to the DC).
    let _unlocked = Restore(vec!["up".into()]);
    lock_out("lockme");
    // Unrelated changes: another user disabled, a user added to a nested group.
    let _enabled = Restore::tool(&["user", "enable", "tdisable"]);
    samba_tool(&["user", "disable", "tdisable"]);
    let _out_again = Restore::tool(&["group", "removemembers", "Developers", "frank"]);
    samba_tool(&["group", "addmembers", "Developers", "frank"]);

    std::thread::sleep(NOTHING_HAPPENS_FOR);
    let mut tunnels = gateway.tunnels();
    tunnels.sort();
    assert_eq!(
        tunnels,
        ["alice", "lockme"],
        "adgate log:\n{}",
        adgate.log()
    );
    assert!(
        disconnects(&adgate).is_empty(),
        "{:?}",
        disconnects(&adgate)
    );
    let _ = lab;
}

/// Locks `user` out with more wrong-password binds than the domain's threshold, sent to the DC
/// directly as a guesser elsewhere would.
fn lock_out(user: &str) {
    let lab = Lab::get();
    let dn = format!("CN={user},CN=Users,{}", lab.value("BASE_DN"));
    for _ in 0..12 {
        let _ = Command::new("ldapsearch")
            .args([
                "-x",
                "-H",
                lab.value("LDAP_URL"),
                "-o",
                "nettimeout=5",
                "-D",
                &dn,
            ])
            .args(["-w", "wrong-password-of-a-guesser", "-b", "", "-s", "base"])
            .env("LDAPTLS_CACERT", lab.value("CA_FILE"))
            .output();
    }
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_dc_outage_cuts_nothing_and_a_removal_made_meanwhile_cuts_once_it_is_back() {
    let lab = Lab::get();
    let dae_port = free_udp_port();
    let adgate = adgate_with_dae(dae_port, "");
    let gateway = Gateway::up_with_dae(&adgate, dae_port);
    connect(&gateway, &adgate, "tgroup");

    // Dropped in reverse: the DC is started before tgroup is put back.
    let _back = Restore::tool(&["group", "addmembers", "Telework-Allowed", "tgroup"]);
    let _started = Restore(vec!["start".into()]);
    lab.lab_sh(&["stop"]);
    std::thread::sleep(NOTHING_HAPPENS_FOR);
    assert_eq!(
        gateway.tunnels(),
        ["tgroup"],
        "adgate log:\n{}",
        adgate.log()
    );
    assert!(disconnects(&adgate).is_empty());

    // The removal is made on the stopped DC's database, as an admin's change that adgate could
    // not have been told about.
    let dc = lab.dir().join("dc");
    lab.lab_sh(&[
        "exec",
        "samba-tool",
        "group",
        "removemembers",
        "Telework-Allowed",
        "tgroup",
        &format!("--configfile={}", dc.join("etc/smb.conf").display()),
        "-H",
        &dc.join("private/sam.ldb").display().to_string(),
    ]);
    lab.lab_sh(&["start"]);
    assert_cut_within(
        &gateway,
        &adgate,
        "tgroup",
        "removal made while the DC was down",
    );
    assert_eq!(
        disconnect_record(&adgate, "tgroup")["reason"],
        "telework_off"
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_restarted_adgate_rebuilds_its_sessions_from_the_trail_and_still_cuts() {
    let dae_port = free_udp_port();
    let mut adgate = adgate_with_dae(dae_port, "");
    let gateway = Gateway::up_with_dae(&adgate, dae_port);
    connect(&gateway, &adgate, "tgroup");

    adgate.stop();
    adgate.restart();
    assert!(
        adgate
            .log()
            .contains("live sessions rebuilt from the audit trail"),
        "{}",
        adgate.log()
    );
    let _back = Restore::tool(&["group", "addmembers", "Telework-Allowed", "tgroup"]);
    samba_tool(&["group", "removemembers", "Telework-Allowed", "tgroup"]);
    assert_cut_within(&gateway, &adgate, "tgroup", "removal after a restart");
    assert_eq!(disconnect_record(&adgate, "tgroup")["result"], "ack");
    assert_trail_verifies(&adgate);
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn an_admin_cuts_a_tunnel_by_hand_and_strangers_may_not() {
    let dae_port = free_udp_port();
    let adgate = adgate_with_dae(dae_port, "");
    let gateway = Gateway::up_with_dae(&adgate, dae_port);
    connect(&gateway, &adgate, "alice");
    let config = adgate.config_path();

    let (code, listed) = sessions(&config, &["list"]);
    assert_eq!(code, 0, "{listed}");
    assert!(listed.contains("user=alice"), "{listed}");
    assert!(listed.contains("1 live session(s)"), "{listed}");

    // Neither the socket's mode nor, behind it, adgate's own check lets a stranger in.
    let (code, refused) = sessions_as_nobody(&config, &["list"]);
    assert_eq!(code, 2, "{refused}");
    std::fs::set_permissions(
        adgate.control_socket(),
        std::fs::Permissions::from_mode(0o666),
    )
    .expect("chmod the socket");
    let (code, refused) = sessions_as_nobody(&config, &["disconnect", "--user", "alice"]);
    assert_eq!(code, 2, "{refused}");
    assert!(refused.contains("permission denied"), "{refused}");
    assert_eq!(gateway.tunnels(), ["alice"]);

    let (code, cut) = sessions(
        &config,
        &["disconnect", "--user", "alice", "--reason", "stolen laptop"],
    );
    assert_eq!(code, 0, "{cut}\n{}", adgate.log());
    assert!(cut.contains("result=ack"), "{cut}");
    assert_cut_within(&gateway, &adgate, "alice", "adgate sessions disconnect");
    let record = disconnect_record(&adgate, "alice");
    assert_eq!(record["reason"], "admin_request", "{record}");
    assert_eq!(record["requested_by"]["uid"], 0, "{record}");
    assert_eq!(record["requested_by"]["user"], "root", "{record}");
    assert_eq!(
        record["requested_by"]["comment"], "stolen laptop",
        "{record}"
    );
    assert_trail_verifies(&adgate);
}

fn sessions(config: &Path, args: &[&str]) -> (i32, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["sessions".as_ref(), args[0].as_ref()];
    all.extend(["--config".as_ref(), config.as_os_str()]);
    all.extend(
        args[1..]
            .iter()
            .map(|arg| -> &std::ffi::OsStr { arg.as_ref() }),
    );
    adgate_command(&all)
}

/// `adgate sessions …` as user nobody, who may read the config but is no admin.
fn sessions_as_nobody(config: &Path, args: &[&str]) -> (i32, String) {
    for path in [config.parent().expect("config dir"), config] {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let output = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_adgate"))
        .args(["sessions", args[0], "--config"])
        .arg(config)
        .args(&args[1..])
        .output()
        .expect("run setpriv");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// Sets `user`'s logon hours (`logonHours`, 21 octets, one bit per hour of the week) as an
/// admin would on the Account tab; `None` removes the restriction.
fn set_logon_hours(user: &str, hours: Option<[u8; 21]>) {
    let lab = Lab::get();
    let dn = format!("CN={user},CN=Users,{}", lab.value("BASE_DN"));
    let change = match hours {
        Some(hours) => format!(
            "dn: {dn}\nchangetype: modify\nreplace: logonHours\nlogonHours:: {}\n-\n",
            base64::engine::general_purpose::STANDARD.encode(hours)
        ),
        None => format!("dn: {dn}\nchangetype: modify\nreplace: logonHours\n-\n"),
    };
    let admin = format!("CN=Administrator,CN=Users,{}", lab.value("BASE_DN"));
    let mut child = Command::new("ldapmodify")
        .args(["-x", "-H", lab.value("LDAP_URL"), "-D", &admin, "-y"])
        .arg(lab.value("ADMIN_PASSWORD_FILE"))
        .env("LDAPTLS_CACERT", lab.value("CA_FILE"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ldapmodify");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(change.as_bytes())
        .expect("write LDIF");
    let output = child.wait_with_output().expect("ldapmodify");
    assert!(
        output.status.success(),
        "ldapmodify: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Logon hours back to "always" when dropped.
struct AlwaysAllowed(&'static str);

impl Drop for AlwaysAllowed {
    fn drop(&mut self) {
        set_logon_hours(self.0, None);
    }
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn logon_hours_end_a_certificate_tunnel_and_refuse_the_next_certificate_login() {
    let identity = "thours@corp.example.test";
    let CertificateTunnel {
        pki,
        certificate,
        adgate,
        gateway,
    } = CertificateTunnel::up("thours", identity);

    // The admin allows no hour of the week any more.
    let _always = AlwaysAllowed("thours");
    set_logon_hours("thours", Some([0; 21]));
    assert_cut_within(&gateway, &adgate, identity, "logon hours exclude now");
    assert_eq!(
        disconnect_record(&adgate, identity)["reason"],
        "logon_restricted"
    );

    // A certificate login never binds, so AD itself would not refuse it: adgate does.
    let (code, said) = gateway.login_with_certificate(&pki, &certificate);
    assert_eq!(
        (code, said.as_str()),
        (Some(1), "thours@corp.example.test: refused")
    );
    let refusal = adgate
        .records()
        .into_iter()
        .rev()
        .find(|r| r["type"] == "decision" && r["user_name"] == identity)
        .expect("a decision record");
    assert_eq!(refusal["reason"], "logon_restricted", "{refusal}");
    assert_trail_verifies(&adgate);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_nas_that_never_answers_gets_bounded_retries_and_a_forged_ack_is_ignored() {
    let lab = Lab::get();
    let das = SimulatedDas::bind(
        "127.0.0.1:0".parse().unwrap(),
        SharedSecret::new(lab.radius_secret()),
        DasBehaviour::Silent,
    )
    .expect("bind the simulated NAS");
    let adgate = adgate_with_dae(das.local_addr().port(), "");
    let (accept, _) = adgate.pap("alice", &lab.fixture_password()).await;
    assert_eq!(accept.code, adgate_radius::ResponseCode::Accept);
    let start: [(u8, &[u8]); 3] = [
        (40, &1u32.to_be_bytes()), // Acct-Status-Type Start
        (44, b"sim-session-1"),    // Acct-Session-Id
        (1, b"alice"),             // User-Name
    ];
    adgate.accounting_nas().accounting(&start).await.unwrap();
    let config = adgate.config_path();
    let cut = |config: PathBuf| {
        tokio::task::spawn_blocking(move || {
            sessions(&config, &["disconnect", "--session", "sim-session-1"])
        })
    };

    // Silence: three transmissions of the same bytes from one port (at 0, 1 and 3 s), then
    // given up and recorded.
    let (code, output) = cut(config.clone()).await.unwrap();
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("result=no_answer"), "{output}");
    let sent = das.received();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent
        .iter()
        .all(|d| d.datagram == sent[0].datagram && d.source == sent[0].source));
    let record = disconnect_record(&adgate, "alice");
    assert_eq!(record["result"], "no_answer", "{record}");
    assert_eq!(record["attempts"], 3, "{record}");
    assert!(
        record["detection_to_result_ms"].as_u64().unwrap() >= 7000,
        "{record}"
    );

    // A forged Disconnect-ACK (signed with another secret) is not believed.
    das.set_behaviour(DasBehaviour::ForgedAck);
    let (code, output) = cut(config.clone()).await.unwrap();
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("result=no_answer"), "{output}");

    // The real answer ends it, and the session is gone from the table.
    das.set_behaviour(DasBehaviour::Ack);
    let (code, output) = cut(config.clone()).await.unwrap();
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("result=ack"), "{output}");
    let (_, listed) = sessions(&config, &["list"]);
    assert!(listed.contains("0 live session(s)"), "{listed}");
    assert_eq!(disconnects(&adgate).len(), 3);
    assert_trail_verifies(&adgate);
}
