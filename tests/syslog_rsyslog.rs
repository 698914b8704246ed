//! Forwarding to a real rsyslog (Debian's rsyslogd, our own instance with its own config, pid
//! file and work directory, on a loopback port inside the lab namespace). The collector is
//! stopped during a run of logins, and adgate restarted while it is down: logins go on
//! regardless, and rsyslog's file ends up with every record, in order (a record may arrive twice
//! after a reconnect, recognisable by its `seq`).

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use adgate_radius::ResponseCode;
use common::{Adgate, Lab};
use serde_json::Value;

/// Our own rsyslogd, receiving RFC 5424 over TCP and writing each message's MSG to a file.
struct Rsyslog {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Rsyslog {
    fn start() -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::create_dir(dir.path().join("work")).unwrap();
        std::fs::write(
            dir.path().join("rsyslog.conf"),
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="records" type="string" string="%msg%\n")
action(type="omfile" file="{out}" template="records")
"#,
                work = dir.path().join("work").display(),
                out = dir.path().join("received.log").display(),
            ),
        )
        .unwrap();
        let mut rsyslog = Rsyslog {
            dir,
            port,
            child: None,
        };
        rsyslog.restart();
        rsyslog
    }

    fn restart(&mut self) {
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(self.dir.path().join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd (Debian package rsyslog)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    fn received(&self) -> PathBuf {
        self.dir.path().join("received.log")
    }

    /// The records in rsyslog's file, in the order received.
    fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.received()).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.find('{').map(|start| &line[start..]))
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect()
    }

    /// Waits until rsyslog has every record up to `last_seq`.
    fn wait_for(&self, last_seq: u64) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let records = self.records();
            let mut seen: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
            seen.sort();
            seen.dedup();
            if seen.len() as u64 >= last_seq || Instant::now() > deadline {
                return records;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn last_seq(audit_dir: &Path) -> u64 {
    let text = std::fs::read_to_string(audit_dir.join("audit.jsonl")).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    last["seq"].as_u64().unwrap()
}

async fn logins(adgate: &Adgate, users: &[&str], sent: &mut Vec<String>) {
    let password = Lab::get().fixture_password();
    for user in users {
        let response = adgate
            .nas()
            .pap(user.as_bytes(), &password)
            .await
            .expect("an answer");
        let expected = if *user == "alice" {
            ResponseCode::Accept
        } else {
            ResponseCode::Reject
        };
        assert_eq!(response.code, expected, "{user}");
        sent.push((*user).to_owned());
    }
}

#[tokio::test]
async fn every_record_reaches_rsyslog_in_order_across_its_outage_and_an_adgate_restart() {
    let mut rsyslog = Rsyslog::start();
    let spool = tempfile::tempdir().unwrap();
    let mut adgate = Adgate::start_with(|config| {
        format!(
            "{config}\n[syslog]\nurl = \"tcp://127.0.0.1:{}\"\nspool_dir = \"{}\"\nhostname = \"gw1.corp.example.test\"\n",
            rsyslog.port,
            spool.path().display()
        )
    });
    let mut sent = Vec::new();
    let round = ["alice", "frank", "alice", "ivan", "alice"];
    logins(&adgate, &round, &mut sent).await;
    rsyslog.wait_for(last_seq(&adgate.audit_dir()));

    // Down while adgate runs, back while it runs.
    rsyslog.stop();
    logins(&adgate, &round, &mut sent).await;
    rsyslog.restart();
    logins(&adgate, &round, &mut sent).await;
    rsyslog.wait_for(last_seq(&adgate.audit_dir()));
    // Down again, and adgate restarted before it comes back: the position survives.
    rsyslog.stop();
    logins(&adgate, &round, &mut sent).await;
    adgate.stop();
    rsyslog.restart();
    adgate.restart();
    logins(&adgate, &round, &mut sent).await;

    let last = last_seq(&adgate.audit_dir());
    let records = rsyslog.wait_for(last);
    let mut first_seen = Vec::new();
    let mut users = Vec::new();
    for record in &records {
        let seq = record["seq"].as_u64().unwrap();
        if first_seen.last().is_some_and(|latest| seq <= *latest) {
            continue; // sent again after a reconnect
        }
        first_seen.push(seq);
        users.push(record["user_name"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        first_seen,
        (1..=last).collect::<Vec<_>>(),
        "{}",
        rsyslog.received().display()
    );
    assert_eq!(users, sent);
}
