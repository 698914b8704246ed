//! The lab as `deploy/lab.sh up` left it, for the lab tests of this crate: its settings from
//! lab.env, ready-made directories and authorizers, and the way to change AD.
//!
//! Each test binary uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use adgate_authz::{
    Authorizer, Directory, DirectoryChange, DirectoryConfig, Outcome, PolicyConfig,
    DEFAULT_USER_BIND_CONNECTIONS,
};
use zeroize::Zeroizing;

/// The lab's facts, from lab.env.
pub struct Lab {
    env: HashMap<String, String>,
    fixture_password: Zeroizing<String>,
}

impl Lab {
    pub fn load() -> Lab {
        // RUST_LOG=adgate_authz=debug with --nocapture shows each step.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = std::env::var_os("ADGATE_LAB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/lib/adgate-lab"));
        let text = std::fs::read_to_string(dir.join("lab.env"))
            .expect("lab.env missing: run deploy/lab.sh up (and these tests in its netns)");
        let env = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut lab = Lab {
            env,
            fixture_password: Zeroizing::new(String::new()),
        };
        lab.fixture_password = lab.secret("FIXTURE_PASSWORD_FILE");
        lab
    }

    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("lab.env has no {key}"))
    }

    pub fn secret(&self, file_key: &str) -> Zeroizing<String> {
        let text = std::fs::read_to_string(self.get(file_key)).unwrap();
        Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned())
    }

    pub fn config(&self, urls: Vec<String>, timeout: Duration) -> DirectoryConfig {
        DirectoryConfig {
            urls,
            domain: None,
            ca_file: self.get("CA_FILE").into(),
            bind_dn: self.get("BIND_DN").into(),
            bind_password: self.secret("BIND_PASSWORD_FILE"),
            base_dn: self.get("BASE_DN").into(),
            netbios_domain: Some(self.get("NETBIOS_DOMAIN").into()),
            timeout,
            starttls: false,
            allow_plain_ldap: false,
            user_bind_connections: DEFAULT_USER_BIND_CONNECTIONS,
        }
    }

    pub fn authorizer_for(&self, urls: Vec<String>, timeout: Duration) -> Authorizer {
        let directory = Directory::new(self.config(urls, timeout)).unwrap();
        let policy = PolicyConfig {
            telework_group: self.get("TELEWORK_GROUP").into(),
            reply: Vec::new(),
        };
        Authorizer::new(directory, policy)
    }

    pub fn authorizer(&self) -> Authorizer {
        self.authorizer_for(vec![self.get("LDAP_URL").into()], Duration::from_secs(5))
    }

    pub async fn login(&self, authorizer: &Authorizer, user: &str) -> Outcome {
        authorizer
            .check_password(user.as_bytes(), self.fixture_password.as_bytes())
            .await
    }
}

impl Lab {
    /// Runs `deploy/lab.sh ARGS` against this lab (e.g. `tool user disable tdisable`, `stop`)
    /// and returns what it printed.
    pub fn try_lab_sh(&self, args: &[&str]) -> Result<String, String> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/lab.sh");
        let output = std::process::Command::new(&script)
            .args(args)
            .env("ADGATE_LAB_DIR", self.get("LAB_DIR"))
            .env("ADGATE_LAB_NETNS", self.get("NETNS"))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(format!(
            "deploy/lab.sh {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }

    pub fn lab_sh(&self, args: &[&str]) -> String {
        self.try_lab_sh(args)
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// The objectGUID, in text form, of the user or group (`kind`) `name`, as samba-tool shows it.
    pub fn guid(&self, kind: &str, name: &str) -> String {
        let shown = self.lab_sh(&["tool", kind, "show", name, "--attributes=objectGUID"]);
        shown
            .lines()
            .find_map(|line| line.strip_prefix("objectGUID: "))
            .unwrap_or_else(|| panic!("no objectGUID for {kind} {name}: {shown}"))
            .trim()
            .to_owned()
    }

    /// Applies `ldif` with ldapmodify as Administrator, through dc1's LDAPS server.
    pub fn ldap_modify(&self, ldif: &str) {
        self.try_ldap_modify(self.get("LDAP_URL"), ldif)
            .unwrap_or_else(|failure| panic!("{failure}"));
    }

    /// Applies `ldif` with ldapmodify as Administrator, through the LDAPS server at `url`.
    pub fn try_ldap_modify(&self, url: &str, ldif: &str) -> Result<(), String> {
        use std::io::Write;
        let admin = format!("CN=Administrator,CN=Users,{}", self.get("BASE_DN"));
        let mut child = std::process::Command::new("ldapmodify")
            .args(["-x", "-H", url, "-o", "nettimeout=5", "-D", &admin])
            .args(["-y", self.get("ADMIN_PASSWORD_FILE")])
            .env("LDAPTLS_CACERT", self.get("CA_FILE"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("ldapmodify (ldap-utils; deploy/lab.sh up installs it): {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(ldif.as_bytes())
                .map_err(|e| format!("ldapmodify: {e}"))?;
        }
        match child.wait() {
            Ok(status) if status.success() => Ok(()),
            other => Err(format!("ldapmodify failed ({other:?}):\n{ldif}")),
        }
    }

    /// Whether a simple bind as `dn` with the fixture password succeeds now (ldapsearch,
    /// through the DC's LDAPS server); `Err` holds the DC's diagnostic, e.g. `data 530`.
    pub fn bind_as(&self, dn: &str) -> Result<(), String> {
        let output = std::process::Command::new("ldapsearch")
            .args([
                "-x",
                "-H",
                self.get("LDAP_URL"),
                "-o",
                "nettimeout=5",
                "-D",
                dn,
            ])
            .args([
                "-y",
                self.get("FIXTURE_PASSWORD_FILE"),
                "-b",
                "",
                "-s",
                "base",
            ])
            .arg("dnsHostName")
            .env("LDAPTLS_CACERT", self.get("CA_FILE"))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("ldapsearch (ldap-utils; deploy/lab.sh up installs it)");
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// The DN of the fixture user `name`.
    pub fn user_dn(&self, name: &str) -> String {
        format!("CN={name},CN=Users,{}", self.get("BASE_DN"))
    }
}

/// What puts a change to AD back.
pub enum Undo<'a> {
    /// `deploy/lab.sh tool ARGS`.
    Tool(&'a [&'a str]),
    /// An LDIF applied with [`Lab::try_ldap_modify`] at a DC's URL.
    Ldif { url: String, ldif: String },
}

/// Puts a change to AD back when dropped: at the point the test means to, or while a failed
/// test unwinds (then a failure to restore is only reported: a second panic would abort the
/// run; `deploy/lab.sh up` restores every fixture anyway).
pub struct Restore<'a> {
    pub lab: &'a Lab,
    pub undo: Undo<'a>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let result = match &self.undo {
            Undo::Tool(args) => {
                let mut all = vec!["tool"];
                all.extend_from_slice(args);
                self.lab.try_lab_sh(&all).map(drop)
            }
            Undo::Ldif { url, ldif } => self.lab.try_ldap_modify(url, ldif),
        };
        if let Err(failure) = result {
            if std::thread::panicking() {
                eprintln!("could not restore the lab: {failure}");
            } else {
                panic!("{failure}");
            }
        }
    }
}

/// Waits until `limit` after `since` for a change `wanted` accepts (others are skipped); how
/// long after `since` it came.
pub async fn wait_for(
    changes: &mut tokio::sync::mpsc::Receiver<DirectoryChange>,
    since: Instant,
    limit: Duration,
    what: &str,
    wanted: impl Fn(&DirectoryChange) -> bool,
) -> Duration {
    loop {
        let left = limit
            .checked_sub(since.elapsed())
            .unwrap_or_else(|| panic!("no {what} within {limit:?}"));
        match tokio::time::timeout(left, changes.recv()).await {
            Ok(Some(change)) if wanted(&change) => return since.elapsed(),
            Ok(Some(other)) => println!("while waiting for {what}: {other:?}"),
            Ok(None) => panic!("the watch ended while waiting for {what}"),
            Err(_) => panic!("no {what} within {limit:?}"),
        }
    }
}

pub fn changed(guid: &str, group: bool) -> impl Fn(&DirectoryChange) -> bool + '_ {
    move |change| {
        matches!(change, DirectoryChange::Changed { object_guid, is_group, .. }
            if object_guid == guid && *is_group == group)
    }
}
