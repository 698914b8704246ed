//! A valid, lab-shaped configuration file for the config tests, which each edit one part of.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Config;

/// A valid lab-shaped config whose secret files live in `dir`.
pub(super) fn write_config(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    std::fs::write(dir.join("vpn1.secret"), "a-long-random-radius-secret\n").unwrap();
    std::fs::write(dir.join("ldap.secret"), "service-password").unwrap();
    let text = format!(
        r#"[server]
auth_listen = ["127.0.0.1:1812"]

[[clients]]
name = "vpn1"
address = "127.0.0.0/8"
secret_file = "{dir}/vpn1.secret"

[directory]
urls = ["ldaps://dc1.corp.example.test:636"]
ca_file = "{dir}/ad-ca.pem"
bind_dn = "CN=svc-adgate,CN=Users,DC=corp,DC=example,DC=test"
bind_password_file = "{dir}/ldap.secret"
base_dn = "DC=corp,DC=example,DC=test"
timeout_ms = 3000

[policy]
telework_group = "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test"

[audit]
dir = "{dir}/audit"
"#,
        dir = dir.display()
    );
    let path = dir.join("adgate.toml");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(edit(text).as_bytes()).unwrap();
    path
}

pub(super) fn load_error(edit: impl Fn(String) -> String) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), edit);
    Config::load(&path).unwrap_err().to_string()
}
