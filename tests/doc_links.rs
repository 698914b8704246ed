//! Every relative link in the repository's Markdown resolves: to a file or directory inside the
//! repository (never outside it, as a checkout or the package holds nothing else) and, with a
//! `#section`, to a heading of that file (GitHub's anchor for it). Moving a section between the
//! files of `docs/` without mending its links fails here.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Directories holding no documentation: build output, fuzzing inputs.
const SKIPPED_DIRECTORIES: [&str; 6] = [
    "target",
    ".git",
    "corpus",
    "regressions",
    "artifacts",
    "node_modules",
];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `*.md` file of the repository.
fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIPPED_DIRECTORIES.contains(&name.as_str()) {
                markdown_files(&path, found);
            }
        } else if name.ends_with(".md") {
            found.push(path);
        }
    }
}

/// The lines of `markdown` outside fenced code blocks, with their line numbers.
fn prose(markdown: &str) -> Vec<(usize, &str)> {
    let mut in_code = false;
    let mut lines = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code {
            lines.push((index + 1, line));
        }
    }
    lines
}

/// The targets of the inline links `[text](target)` on one line, outside code spans.
fn link_targets(line: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    let mut in_code_span = false;
    let bytes = line.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'`' => in_code_span = !in_code_span,
            b']' if !in_code_span && bytes.get(at + 1) == Some(&b'(') => {
                if let Some(end) = line[at + 2..].find(')') {
                    targets.push(&line[at + 2..at + 2 + end]);
                    at += 2 + end;
                }
            }
            _ => {}
        }
        at += 1;
    }
    targets
}

/// GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces as
/// `-`; a repeated heading gets `-1`, `-2`, ...
fn anchors(markdown: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = Vec::new();
    for (_, line) in prose(markdown) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let text = heading.trim_start_matches('#').trim();
        let slug: String = text
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        anchors.push(match *count {
            0 => slug.clone(),
            n => format!("{slug}-{n}"),
        });
        *count += 1;
    }
    anchors
}

/// What is wrong with each relative link of one file.
fn broken_links(root: &Path, file: &Path) -> Vec<String> {
    let markdown = std::fs::read_to_string(file).unwrap();
    let name = file.strip_prefix(root).unwrap().display().to_string();
    let mut broken = Vec::new();
    for (line_number, line) in prose(&markdown) {
        for target in link_targets(line) {
            let place = format!("{name}:{line_number}: ({target})");
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if path.is_empty() {
                file.to_owned()
            } else {
                file.parent().unwrap().join(path)
            };
            let Ok(resolved) = linked.canonicalize() else {
                broken.push(format!("{place} names no file"));
                continue;
            };
            if !resolved.starts_with(root) {
                broken.push(format!("{place} points outside the repository"));
                continue;
            }
            if !anchor.is_empty() {
                let headings = anchors(&std::fs::read_to_string(&resolved).unwrap_or_default());
                if !headings.iter().any(|heading| heading == anchor) {
                    broken.push(format!("{place} names no heading of that file"));
                }
            }
        }
    }
    broken
}

/// The folders of the repository that the docs name files in, as `src/reason.rs`.
const REPOSITORY_FOLDERS: [&str; 8] = [
    "src/", "radius/", "authz/", "certs/", "tests/", "deploy/", "docs/", "fuzz/",
];

/// The repository paths named in code spans of one line (`src/reason.rs`, `deploy/lab.sh up`):
/// the first word of a span that starts with a folder of the repository, trailing punctuation
/// and `:line` dropped; none with a placeholder (`src/config/<section>.rs`).
fn named_paths(line: &str) -> Vec<&str> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| span.split_whitespace().next())
        .filter(|word| {
            REPOSITORY_FOLDERS
                .iter()
                .any(|folder| word.starts_with(folder))
        })
        .filter(|word| !word.contains(['<', '*', '{']))
        .map(|word| {
            let word = word.split(':').next().unwrap_or(word);
            word.trim_end_matches([',', '.', ';', ')'])
        })
        .collect()
}

/// What the README and `docs/*.md` name in code spans that the repository does not hold.
fn missing_paths(root: &Path, file: &Path) -> Vec<String> {
    let markdown = std::fs::read_to_string(file).unwrap();
    let name = file.strip_prefix(root).unwrap().display().to_string();
    let mut missing = Vec::new();
    for (line_number, line) in prose(&markdown) {
        for path in named_paths(line) {
            if !root.join(path).exists() {
                missing.push(format!(
                    "{name}:{line_number}: `{path}` is not in the repository"
                ));
            }
        }
    }
    missing
}

#[test]
fn every_file_the_docs_name_in_the_repository_exists() {
    let root = repository().canonicalize().unwrap();
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let missing: Vec<String> = files
        .iter()
        .flat_map(|file| missing_paths(&root, file))
        .collect();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert_eq!(
        named_paths("see `src/reason.rs`, `deploy/lab.sh up` and `src/config/<section>.rs`"),
        ["src/reason.rs", "deploy/lab.sh"]
    );
}

#[test]
fn every_relative_link_names_a_file_and_heading_in_the_repository() {
    let root = repository().canonicalize().unwrap();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    assert!(files.iter().any(|f| f.ends_with("docs/configuration.md")));
    let broken: Vec<String> = files
        .iter()
        .flat_map(|file| broken_links(&root, file))
        .collect();
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn a_link_to_a_missing_file_outside_the_repository_or_to_a_missing_heading_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let root = dir.join("repository");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(dir.join("outside.md"), "# Outside\n").unwrap();
    std::fs::write(root.join("docs/a.md"), "# A\n\n## Reload and stop\n").unwrap();
    let readme = root.join("README.md");
    std::fs::write(
        &readme,
        "[ok](docs/a.md#reload-and-stop) `[code](nowhere.md)`\n\
         [gone](docs/b.md)\n[out](../outside.md)\n[heading](docs/a.md#reload)\n\
         ```\n[in a block](nowhere.md)\n```\n",
    )
    .unwrap();
    let broken = broken_links(&root, &readme);
    assert_eq!(broken.len(), 3, "{broken:#?}");
    assert!(broken[0].starts_with("README.md:2: (docs/b.md) names no file"));
    assert!(broken[1].starts_with("README.md:3: (../outside.md) points outside"));
    assert!(broken[2].starts_with("README.md:4: (docs/a.md#reload) names no heading"));
}
