//! `adgate audit report` over trails written by a real adgate: a password spray from one
//! Calling-Station-Id shows as such, a tampered trail is refused (and reported with `--force`,
//! which the first line says), the HTML report renders in headless Chromium with its charts
//! (Chromium is a program the lab installs), and — with the lab AD — accepted logins, sessions
//! and new sources are counted.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use adgate_radius::ResponseCode;
use common::{adgate_command, class_of, without_reject_delay, Adgate, Lab};
use serde_json::Value;

const USER_NAME: u8 = 1;
const CLASS: u8 = 25;
const CALLING_STATION_ID: u8 = 31;
const ACCT_STATUS_TYPE: u8 = 40;
const ACCT_SESSION_ID: u8 = 44;
const ACCT_SESSION_TIME: u8 = 46;

/// The source of the spray.
const SPRAYER: &str = "192.0.2.66";

/// A stopped adgate (no DC) whose trail holds a spray — six names tried from [`SPRAYER`],
/// refused as `unknown_user` before any DC is asked (their domain is not the NetBIOS one) —,
/// two logins of alice from her own address that no DC answered (`directory_unavailable`:
/// refusals, but no attack), and one accounted session of alice, an hour long.
async fn trail_with_a_spray() -> Adgate {
    let mut adgate = Adgate::start_on(Lab::without_dc(), without_reject_delay);
    for n in 1..=6 {
        let (answer, record) = adgate
            .pap_from(SPRAYER, &format!("EVIL\\user{n}"), b"Winter2026!")
            .await;
        assert_eq!(answer.code, ResponseCode::Reject);
        assert_ne!(record["reason"], "directory_unavailable", "{record}");
    }
    for _ in 0..2 {
        let (_, record) = adgate.pap_from("203.0.113.5", "alice", b"secret").await;
        assert_eq!(record["reason"], "directory_unavailable");
    }
    let nas = adgate.accounting_nas();
    for (status, seconds) in [(1u32, None), (2, Some(3600u32))] {
        let mut attributes: Vec<(u8, Vec<u8>)> = vec![
            (ACCT_STATUS_TYPE, status.to_be_bytes().to_vec()),
            (ACCT_SESSION_ID, b"session-7".to_vec()),
            (USER_NAME, b"alice".to_vec()),
            (CALLING_STATION_ID, b"203.0.113.5".to_vec()),
        ];
        attributes.extend(seconds.map(|s| (ACCT_SESSION_TIME, s.to_be_bytes().to_vec())));
        let borrowed: Vec<(u8, &[u8])> = attributes.iter().map(|(t, v)| (*t, &v[..])).collect();
        nas.accounting(&borrowed).await.unwrap();
    }
    adgate.stop();
    adgate
}

/// Runs `adgate audit report DIR --since yesterday --tz UTC EXTRA…`.
fn run_report(dir: &Path, extra: &[&str]) -> (i32, String) {
    let yesterday = (chrono::Utc::now() - chrono::TimeDelta::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let mut args: Vec<&OsStr> = vec![
        "audit".as_ref(),
        "report".as_ref(),
        dir.as_os_str(),
        "--since".as_ref(),
        yesterday.as_ref(),
        "--tz".as_ref(),
        "UTC".as_ref(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    adgate_command(&args)
}

fn last_seq(adgate: &Adgate) -> u64 {
    adgate.records().last().unwrap()["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn a_spray_from_one_station_over_several_users_shows_as_spraying() {
    let adgate = trail_with_a_spray().await;
    let (code, json) = run_report(&adgate.audit_dir(), &["--format", "json"]);
    assert_eq!(code, 0, "{json}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["trail"]["intact"], true);
    assert_eq!(report["trail"]["verified_up_to_seq"], last_seq(&adgate));
    let spraying = report["summary"]["spraying"].as_array().unwrap();
    assert_eq!(spraying.len(), 1, "{json}");
    assert_eq!(spraying[0]["station"], SPRAYER);
    assert_eq!(spraying[0]["users_in_window"], 6);
    assert_eq!(spraying[0]["users"][0], "EVIL\\user1");
    // An unanswered directory is no attack: alice's address is no failing source.
    let sources = report["summary"]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{json}");
    let alice = report["summary"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["user"] == "alice")
        .unwrap_or_else(|| panic!("no alice in {json}"));
    assert_eq!(alice["refusals"]["directory_unavailable"], 2);
    assert_eq!(
        (
            alice["sessions"].as_u64(),
            alice["connected_seconds"].as_u64()
        ),
        (Some(1), Some(3600))
    );

    let (code, text) = run_report(&adgate.audit_dir(), &[]);
    assert_eq!(code, 0, "{text}");
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "Trail verified intact up to seq {} (checkpoint signatures not checked: no --pubkey).",
            last_seq(&adgate)
        )
    );
    assert!(
        text.contains(&format!("  {SPRAYER}: 6 users within 60 min")),
        "{text}"
    );
}

#[tokio::test]
async fn a_tampered_trail_is_refused_unless_forced_and_then_the_first_line_says_so() {
    let adgate = trail_with_a_spray().await;
    let trail = adgate.audit_dir().join("audit.jsonl");
    let text = std::fs::read_to_string(&trail).unwrap();
    // Hide one name of the spray, as an intruder covering tracks would.
    let tampered = text.replacen("EVIL\\\\user3", "EVIL\\\\user1", 1);
    // One segment, seq = line number: the altered record's line is intact as far as its own
    // chain link goes; the break shows at the next line, and the report trusts up to the one
    // before the altered record.
    let altered_line = 1 + text
        .lines()
        .position(|line| line.contains("EVIL\\\\user3"))
        .unwrap();
    assert_ne!(tampered, text);
    std::fs::write(&trail, tampered).unwrap();

    let (code, output) = run_report(&adgate.audit_dir(), &[]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.starts_with("adgate: no report: the trail in")
            && output.contains("is broken: audit.jsonl, line")
            && output.contains("--force"),
        "{output}"
    );

    for format in ["text", "html", "json"] {
        let (code, output) = run_report(&adgate.audit_dir(), &["--force", "--format", format]);
        assert_eq!(code, 0, "{output}");
        let first = output.lines().next().unwrap();
        let trusted = altered_line - 1;
        let says_so = match format {
            "json" => first.starts_with(&format!(
                r#"{{"trail":{{"intact":false,"forced":true,"verified_up_to_seq":{trusted},"#
            )),
            _ => {
                first.contains("WARNING: THE TRAIL IS BROKEN; report made anyway")
                    && first.contains(&format!(
                        "Chain intact up to seq {trusted}; first break: audit.jsonl, line {}",
                        altered_line + 1
                    ))
            }
        };
        assert!(says_so, "{format}: {first}");
    }
}

/// Headless Chromium on a fresh profile, with everything that would reach the network off.
fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    const CHROMIUM: &str = "/usr/bin/chromium";
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the HTML report test renders the page in it (deploy/lab.sh up installs it)"
    );
    Command::new("timeout")
        .arg("60")
        .arg(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

#[tokio::test]
#[ignore = "needs chromium, which deploy/lab.sh up installs: deploy/test.sh"]
async fn the_html_report_renders_in_chromium_with_its_three_charts() {
    let adgate = trail_with_a_spray().await;
    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("report.html");
    let (code, output) = run_report(
        &adgate.audit_dir(),
        &["--format", "html", "--out", page.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{output}");
    // Like the trail, the report names people and their addresses.
    let mode = std::fs::metadata(&page).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640, "{mode:o}");
    let url = format!("file://{}", page.display());

    let dump = chromium(&work.path().join("profile-dom"), &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.status.success() && dom.contains("</html>"),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    // The browser parsed three SVG charts with their bars: two days (yesterday, today), each
    // with an accepted and a refused column; two refusal reasons; one failing source.
    let chart = |id: &str| {
        let start = dom
            .find(&format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{id}\""
            ))
            .unwrap_or_else(|| panic!("no chart {id} in {dom}"));
        let end = start + dom[start..].find("</svg>").unwrap();
        dom[start..end].to_owned()
    };
    let per_day = chart("logins-per-day");
    assert_eq!(
        per_day.matches("<rect class=\"bar accepted\"").count(),
        2,
        "{per_day}"
    );
    assert_eq!(
        per_day.matches("<rect class=\"bar refused\"").count(),
        2,
        "{per_day}"
    );
    assert!(per_day.contains(": 8 refused</title>"), "{per_day}");
    let reasons = chart("refusals-by-reason");
    assert_eq!(
        reasons.matches("<rect class=\"bar reason\"").count(),
        2,
        "{reasons}"
    );
    assert!(
        reasons.contains(">unknown_user: 6</title>")
            && reasons.contains(">directory_unavailable: 2</title>"),
        "{reasons}"
    );
    let sources = chart("top-failure-sources");
    assert_eq!(
        sources.matches("<rect class=\"bar failure\"").count(),
        1,
        "{sources}"
    );
    assert!(sources.contains(&format!(">{SPRAYER}</text>")), "{sources}");
    assert!(!dom.contains("<script"), "the page runs no script");

    let png = work.path().join("report.png");
    let shot = chromium(
        &work.path().join("profile-png"),
        &[
            "--window-size=1000,1400",
            "--hide-scrollbars",
            &format!("--screenshot={}", png.display()),
            &url,
        ],
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let image = std::fs::read(&png).unwrap();
    assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height as asked; a page with text, tables and coloured bars compresses to
    // far more than a blank one (a few hundred bytes).
    assert_eq!(u32::from_be_bytes(image[16..20].try_into().unwrap()), 1000);
    assert_eq!(u32::from_be_bytes(image[20..24].try_into().unwrap()), 1400);
    assert!(image.len() > 20_000, "{} bytes", image.len());
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn accepted_logins_sessions_and_a_new_source_are_counted_per_user() {
    let adgate = Adgate::start();
    let password = Lab::get().fixture_password();
    let (accept, _) = adgate.pap_from("203.0.113.5", "alice", &password).await;
    assert_eq!(accept.code, ResponseCode::Accept);
    let class = class_of(&accept);
    let nas = adgate.accounting_nas();
    let stop: [(u8, &[u8]); 5] = [
        (ACCT_STATUS_TYPE, &2u32.to_be_bytes()),
        (ACCT_SESSION_ID, b"session-9"),
        (USER_NAME, b"alice"),
        (ACCT_SESSION_TIME, &1800u32.to_be_bytes()),
        (CLASS, &class),
    ];
    nas.accounting(&stop).await.unwrap();
    let (code, json) = run_report(&adgate.audit_dir(), &["--format", "json"]);
    assert_eq!(code, 0, "{json}");
    let report: Value = serde_json::from_str(&json).unwrap();
    let alice = report["summary"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["user"] == "alice")
        .unwrap_or_else(|| panic!("no alice in {json}"));
    assert_eq!(alice["accepted"], 1);
    assert_eq!(
        (
            alice["sessions"].as_u64(),
            alice["connected_seconds"].as_u64()
        ),
        (Some(1), Some(1800))
    );
    // The trail is new: every source is new.
    assert_eq!(
        report["summary"]["new_sources"][0]["station"],
        "203.0.113.5"
    );
}
