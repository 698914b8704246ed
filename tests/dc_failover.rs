//! The domain controller in use stops while logins go on: they continue on the second DC with at
//! most one timeout of disruption, no false accept, and no reject other than
//! `directory_unavailable` in that window; the metrics show the stopped DC down with errors; once
//! it is back, adgate moves its connections back to it (it is the first URL). This stops the lab
//! DC, so it is the only test in its binary (cargo runs test binaries one after another). It
//! brings up the lab's second DC (`deploy/lab.sh dc2 up`, idempotent) and leaves it running.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use adgate_radius::ResponseCode;
use common::{http_get, restore_or_report, start_with_metrics, without_reject_delay, Adgate, Lab};

/// The lab config's timeout. Not shorter: the DC is given the same limit for a search, in whole
/// seconds, and the first search in each of a Samba DC's LDAP worker processes (loading the
/// schema) can take a second on a busy machine.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Starts dc1 again even if the test fails half-way.
struct RestartDc1;

impl Drop for RestartDc1 {
    fn drop(&mut self) {
        restore_or_report(&["start"]);
    }
}

/// One login of the loop and what came of it.
#[derive(Debug)]
struct Login {
    user: &'static str,
    started: Instant,
    took: Duration,
    code: ResponseCode,
    reason: String,
}

async fn login(adgate: &Adgate, user: &'static str) -> Login {
    let started = Instant::now();
    let (response, record) = adgate.pap(user, &Lab::get().fixture_password()).await;
    Login {
        user,
        started,
        took: started.elapsed(),
        code: response.code,
        reason: record["reason"].as_str().unwrap_or_default().to_owned(),
    }
}

/// The value of the sample `name` (with its labels) in a classic-text scrape; 0 if absent.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

struct Dc<'a> {
    url: &'a str,
}

impl Dc<'_> {
    fn up(&self, metrics: &str) -> f64 {
        sample(
            metrics,
            &format!("adgate_ldap_dc_up{{dc=\"{}\"}}", self.url),
        )
    }

    fn connections(&self, metrics: &str) -> f64 {
        sample(
            metrics,
            &format!("adgate_ldap_connections{{dc=\"{}\"}}", self.url),
        )
    }

    fn errors(&self, metrics: &str) -> f64 {
        [
            "connect",
            "timeout",
            "tls",
            "service_bind",
            "connection_lost",
        ]
        .iter()
        .map(|kind| {
            let name = format!(
                "adgate_ldap_errors_total{{dc=\"{}\",kind=\"{kind}\"}}",
                self.url
            );
            sample(metrics, &name)
        })
        .sum()
    }

    fn log_lines(&self, log: &str, what: &str) -> usize {
        log.lines()
            .filter(|line| line.contains(what) && line.contains(self.url))
            .count()
    }
}

/// The connection every configured DC keeps for AD change notifications.
const WATCH: f64 = 1.0;

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn logins_fail_over_to_the_second_dc_and_come_back_to_the_first() {
    let lab = Lab::get();
    lab.lab_sh(&["dc2", "up"]);
    let dc1 = Dc {
        url: lab.value("LDAP_URL"),
    };
    let dc2 = Dc {
        url: lab.value("DC2_LDAP_URL"),
    };
    // frank's rejects leave as soon as decided: the loop times the directory, not the delay.
    let (adgate, metrics) = start_with_metrics(|config| {
        without_reject_delay(config).replace(
            &format!("urls = [\"{}\"]", dc1.url),
            &format!("urls = [\"{}\", \"{}\"]", dc1.url, dc2.url),
        )
    });
    let scrape = || http_get(metrics, "/metrics").1;

    assert_eq!(login(&adgate, "alice").await.code, ResponseCode::Accept);
    let text = scrape();
    assert!(dc1.connections(&text) >= 2.0, "{text}");
    // dc2 has only its change watch (live sessions watch every DC); logins use dc1.
    assert_eq!(dc2.connections(&text), WATCH, "{text}");

    // dc1 stops a second into a login loop, which goes on for three timeouts after it is gone.
    let restart = RestartDc1;
    let mut stopper = Some(std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(1));
        Lab::get().lab_sh(&["stop"]);
        Instant::now()
    }));
    let mut logins = Vec::new();
    let mut stopped = None;
    while stopped.is_none_or(|at: Instant| at.elapsed() < TIMEOUT * 3) {
        logins.push(login(&adgate, "alice").await);
        logins.push(login(&adgate, "frank").await);
        if stopper
            .as_ref()
            .is_some_and(|stopper| stopper.is_finished())
        {
            let stopper = stopper.take().expect("checked");
            stopped = Some(stopper.join().expect("lab.sh stop"));
        }
    }

    for login in &logins {
        let expected = match login.user {
            "alice" => "",
            _ => "telework_off",
        };
        let unavailable = login.reason == "directory_unavailable";
        assert!(login.reason == expected || unavailable, "{login:?}");
        assert_eq!(
            login.code == ResponseCode::Accept,
            login.user == "alice" && !unavailable,
            "{login:?}"
        );
    }
    // The disruption: logins refused for want of a DC, or slowed by one that went away.
    let disrupted: Vec<&Login> = logins
        .iter()
        .filter(|login| login.reason == "directory_unavailable" || login.took > TIMEOUT / 2)
        .collect();
    if let (Some(first), Some(last)) = (disrupted.first(), disrupted.last()) {
        let window = last.started + last.took - first.started;
        assert!(
            window <= TIMEOUT * 2,
            "disrupted for {window:?}: {disrupted:#?}"
        );
    }
    let after_stop: Vec<&Login> = logins
        .iter()
        .filter(|login| login.started > stopped.unwrap() + TIMEOUT * 2)
        .collect();
    assert!(after_stop.len() >= 4, "{logins:#?}");
    assert!(
        after_stop
            .iter()
            .all(|login| login.took < TIMEOUT / 2 && login.reason != "directory_unavailable"),
        "{after_stop:#?}"
    );

    let text = scrape();
    assert_eq!(dc1.up(&text), 0.0, "{text}");
    assert!(dc1.errors(&text) >= 1.0, "{text}");
    assert_eq!(dc1.connections(&text), 0.0, "{text}");
    assert_eq!(dc2.up(&text), 1.0, "{text}");
    assert!(dc2.connections(&text) >= 2.0, "{text}");
    assert_eq!(
        dc1.log_lines(&adgate.log(), "domain controller down"),
        1,
        "{}",
        adgate.log()
    );

    // dc1 returns: its background probe finds it, and the next logins move back to it.
    drop(restart);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert_eq!(login(&adgate, "alice").await.code, ResponseCode::Accept);
        let text = scrape();
        if dc1.up(&text) == 1.0 && dc1.connections(&text) >= 2.0 && dc2.connections(&text) == WATCH
        {
            break;
        }
        assert!(Instant::now() < deadline, "still not back on dc1:\n{text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        dc1.log_lines(&adgate.log(), "domain controller is back"),
        1,
        "{}",
        adgate.log()
    );
}
