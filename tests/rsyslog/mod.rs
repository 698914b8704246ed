//! Our own rsyslogd for the syslog tests: its own config, pid file and work directory, on a
//! loopback port of its own inside the lab namespace (the system's rsyslog is never touched).
//! It writes the MSG part of every message it receives, one per line, to a file.

#![allow(dead_code)] // each test binary uses its own subset of these helpers

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Our own rsyslogd, receiving RFC 5424 over TCP and writing each message's MSG to a file.
pub struct Rsyslog {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Rsyslog {
    /// Listening on plain TCP (RFC 6587).
    pub fn start() -> Rsyslog {
        Rsyslog::start_with(|_| (String::new(), String::new()))
    }

    /// `tls(dir)` returns the `global(...)` parameters and the imtcp module parameters that
    /// set up TLS (or two empty strings for plain TCP).
    pub fn start_with(tls: impl FnOnce(&Path) -> (String, String)) -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        let (global_tls, module_tls) = tls(dir.path());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::create_dir(dir.path().join("work")).unwrap();
        std::fs::write(
            dir.path().join("rsyslog.conf"),
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="64k" {global_tls})
module(load="imtcp" {module_tls})
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

    pub fn restart(&mut self) {
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

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    pub fn received(&self) -> PathBuf {
        self.dir.path().join("received.log")
    }

    /// The records in rsyslog's file, in the order received.
    pub fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.received()).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.find('{').map(|start| &line[start..]))
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect()
    }

    /// Waits until rsyslog has every record up to `last_seq`.
    pub fn wait_for(&self, last_seq: u64) -> Vec<Value> {
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
