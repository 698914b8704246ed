//! The configuration the docs show is configuration adgate loads: `deploy/adgate.example.toml`
//! and every ```` ```toml ```` block of `README.md` and `docs/*.md` go through the real parser
//! (`Config::load`), so a renamed key, a moved range or a dropped section in the code fails a
//! test instead of misleading an admin.
//!
//! The convention (docs/development.md, "Docs that cannot rot"): a ```` ```toml ```` block is
//! adgate configuration, whole or in part (any other TOML takes another info string). A block
//! without one of the required sections (`[server]`, `[directory]`, `[policy]`, `[audit]`) is a
//! fragment: the sections it lacks are appended from a minimal configuration, so a fragment that
//! writes into a required section must write all of that section's required keys. Every path
//! given to a `*_file` key or listed in a `*_files` key is moved into a temporary directory
//! and created there, holding a secret long enough for any secret key (`Config::load` reads the
//! secret files; the certificate, key and CA files are read later, by `check-config`).

use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// What a fragment lacks, appended section by section.
const REQUIRED_SECTIONS: [(&str, &str); 4] = [
    ("server", "[server]\nauth_listen = [\"127.0.0.1:1812\"]\n"),
    (
        "directory",
        "[directory]\nurls = [\"ldaps://dc1.corp.example.test:636\"]\n\
         ca_file = \"/etc/adgate/ad-ca.pem\"\n\
         bind_dn = \"CN=svc-adgate,CN=Users,DC=corp,DC=example,DC=test\"\n\
         bind_password_file = \"/etc/adgate/ldap.secret\"\n\
         base_dn = \"DC=corp,DC=example,DC=test\"\n",
    ),
    (
        "policy",
        "[policy]\ntelework_group = \"CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test\"\n",
    ),
    ("audit", "[audit]\ndir = \"/var/lib/adgate/audit\"\n"),
];

/// What every file a block names holds: long enough for a RADIUS shared secret.
const FILE_CONTENT: &str = "a-long-random-documentation-secret\n";

/// One configuration example, and where it is written.
struct Example {
    /// The file, relative to the repository.
    document: String,
    /// The line of the opening fence (0 for a file that is all configuration).
    fence_line: usize,
    text: String,
}

impl Example {
    /// `document:line` of the example's `line` (counted from 1 inside the example).
    fn place(&self, line: usize) -> String {
        format!("{}:{}", self.document, self.fence_line + line)
    }
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example config, then every ```toml block of the README and of `docs/*.md`.
fn examples() -> Vec<Example> {
    let root = repository();
    let example = root.join("deploy/adgate.example.toml");
    let mut examples = vec![Example {
        document: "deploy/adgate.example.toml".to_owned(),
        fence_line: 0,
        text: std::fs::read_to_string(&example).unwrap(),
    }];
    let mut documents = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    documents.extend(docs);
    for document in documents {
        let name = document.strip_prefix(&root).unwrap().display().to_string();
        examples.extend(toml_blocks(
            &name,
            &std::fs::read_to_string(&document).unwrap(),
        ));
    }
    examples
}

/// The ```toml blocks of one Markdown document.
fn toml_blocks(name: &str, markdown: &str) -> Vec<Example> {
    let mut blocks = Vec::new();
    let mut open: Option<Example> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start();
        match open.as_mut() {
            None if fence.starts_with("```toml") => {
                open = Some(Example {
                    document: name.to_owned(),
                    fence_line: index + 1,
                    text: String::new(),
                });
            }
            None => {}
            Some(_) if fence.starts_with("```") => blocks.extend(open.take()),
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
        }
    }
    assert!(open.is_none(), "{name}: a ```toml block is never closed");
    blocks
}

/// The block as a whole configuration: the required sections it lacks appended.
fn completed(text: &str) -> String {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return text.to_owned(); // Config::load reports the syntax error, at its line
    };
    let mut whole = text.to_owned();
    for (section, minimal) in REQUIRED_SECTIONS {
        if !table.contains_key(section) {
            whole.push('\n');
            whole.push_str(minimal);
        }
    }
    whole
}

/// Every path given to a `*_file` key or listed in a `*_files` key, anywhere in the file.
fn named_files(value: &toml::Value, paths: &mut Vec<String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                match value {
                    toml::Value::String(path) if key.ends_with("_file") => {
                        paths.push(path.clone());
                    }
                    toml::Value::Array(list) if key.ends_with("_files") => {
                        paths.extend(list.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                    }
                    other => named_files(other, paths),
                }
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|item| named_files(item, paths)),
        _ => {}
    }
}

/// The configuration with every file it names moved below `dir` and created there.
fn with_files_in(text: &str, dir: &Path) -> String {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return text.to_owned();
    };
    let mut paths = Vec::new();
    named_files(&toml::Value::Table(table), &mut paths);
    let mut moved = text.to_owned();
    for path in paths {
        let new = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(new.parent().unwrap()).unwrap();
        std::fs::write(&new, FILE_CONTENT).unwrap();
        let new = new.display().to_string();
        moved = moved
            .replace(&format!("\"{path}\""), &format!("\"{new}\""))
            .replace(&format!("'{path}'"), &format!("'{new}'"));
    }
    moved
}

/// Loads one example with the real parser; the error names the document and line.
fn load(example: &Example) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adgate.toml");
    let text = with_files_in(&completed(&example.text), dir.path());
    std::fs::write(&path, text).unwrap();
    Config::load(&path).map_err(|error| match error {
        ConfigError::Invalid {
            line, key, problem, ..
        } => format!("{}: `{key}` {problem}", example.place(line)),
        other => format!("{}: {other}", example.place(0)),
    })
}

#[test]
fn every_documented_configuration_loads() {
    let examples = examples();
    let failures: Vec<String> = examples.iter().filter_map(|e| load(e).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The files that must hold examples do: a moved or renamed document cannot pass unseen.
    for document in ["deploy/adgate.example.toml", "docs/configuration.md"] {
        assert!(
            examples.iter().any(|e| e.document == document),
            "no configuration example found in {document}"
        );
    }
}

#[test]
fn the_reference_block_is_a_whole_configuration_with_every_section() {
    let reference = examples()
        .into_iter()
        .find(|e| e.document == "docs/configuration.md")
        .unwrap();
    let table: toml::Table = toml::from_str(&reference.text).unwrap();
    for section in [
        "server",
        "clients",
        "directory",
        "policy",
        "sessions",
        "audit",
        "syslog",
        "throttle",
        "eap_tls",
        "metrics",
        "radsec",
    ] {
        assert!(
            table.contains_key(section),
            "{}: [{section}] missing",
            reference.place(0)
        );
    }
    let config = load(&reference).unwrap();
    assert!(config.eap_tls.is_some() && config.radsec.is_some() && config.syslog.is_some());
}

#[test]
fn a_documented_key_the_parser_refuses_fails_at_its_line() {
    let unknown = toml_blocks(
        "docs/wrong.md",
        "text\n\n```toml\n[throttle]\nmax_failure = 3\n```\n",
    );
    let error = load(&unknown[0]).err().unwrap();
    assert!(error.starts_with("docs/wrong.md:3: "), "{error}");
    assert!(error.contains("unknown field `max_failure`"), "{error}");
    let out_of_range = toml_blocks(
        "docs/wrong.md",
        "text\n\n```toml\n[throttle]\nmax_failures = 0\n```\n",
    );
    let error = load(&out_of_range[0]).err().unwrap();
    assert!(
        error.starts_with("docs/wrong.md:5: `throttle.max_failures`"),
        "{error}"
    );
}

#[test]
fn a_fragment_is_completed_and_its_files_are_created() {
    let fragment = toml_blocks(
        "docs/fragment.md",
        "```toml\n[[clients]]\nname = \"vpn1\"\naddress = \"192.0.2.10/32\"\n\
         secret_file = \"/etc/adgate/vpn1.secret\"\n\n[clients.disconnect]\n\
         address = \"192.0.2.10:3799\"\n```\n",
    );
    let config = load(&fragment[0]).unwrap();
    assert_eq!(config.clients.len(), 1);
    assert_eq!(
        config.clients[0].secret.expose(),
        FILE_CONTENT.trim_end().as_bytes()
    );
}
