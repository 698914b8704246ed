//! Live sessions against the lab DC: re-checking an account by objectGUID as the live-session
//! sweep does, and change notifications from the DC.
//!
//! Run inside the lab's namespace, like `lab.rs`:
//! `ip netns exec adgate-lab cargo test -p adgate-authz --test live_sessions -- --ignored
//! --nocapture` (`--nocapture` shows the measured latencies and costs).
//! Tests that change AD use the users reserved for that (tgroup, tdisable, thours) or put back
//! what they change (the Developers group in Telework-Allowed), and run one at a time.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use adgate_authz::{
    Authorizer, Decision, Directory, DirectoryChange, PolicyConfig, Reason, Recheck, WatchSettings,
    WatchState,
};
use common::{changed, wait_for, Lab, Restore, Undo};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Tests that change AD, or watch for changes, take turns.
static AD_CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn one_change_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    AD_CHANGES.lock().await
}

async fn recheck_user(lab: &Lab, authorizer: &Authorizer, name: &str) -> Recheck {
    let guid = lab.guid("user", name);
    authorizer
        .recheck(&guid)
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn each_fixture_is_judged_as_a_live_session() {
    let lab = Lab::load();
    let authorizer = lab.authorizer();
    for (user, expected) in [
        ("alice", Recheck::Allowed),
        ("grace", Recheck::Allowed), // through the nested group Developers
        ("heidi", Recheck::Allowed),
        ("dave", Recheck::Allowed), // locked out: a lockout does not end a session
        ("erin", Recheck::Allowed), // must change her password: neither does that
        ("bob", Recheck::Revoked(Reason::AccountDisabled)),
        ("carol", Recheck::Revoked(Reason::AccountExpired)),
        ("ivan", Recheck::Revoked(Reason::DialinDenied)),
        ("frank", Recheck::Revoked(Reason::TeleworkOff)),
    ] {
        assert_eq!(
            recheck_user(&lab, &authorizer, user).await,
            expected,
            "{user}"
        );
    }
    // The GUID in capitals, as some tools print it.
    let alice = lab.guid("user", "alice").to_ascii_uppercase();
    assert_eq!(authorizer.recheck(&alice).await.unwrap(), Recheck::Allowed);
    // No object has this GUID: deleted long ago, or never there.
    assert_eq!(
        authorizer
            .recheck("00000000-0000-0000-0000-0000000000a1")
            .await
            .unwrap(),
        Recheck::Deleted
    );
    // A group is no account: no answer rather than a guess.
    let group = lab.guid("group", "Telework-Allowed");
    assert!(authorizer.recheck(&group).await.is_err());
}

/// Counts the crate's "directory search" debug events on this thread.
struct SearchCounter(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SearchCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(bool);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}") == "directory search" {
                    self.0 = true;
                }
            }
        }
        let mut message = Message(false);
        event.record(&mut message);
        if message.0 {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn an_allowed_account_costs_one_search() {
    use tracing_subscriber::layer::SubscriberExt;
    let lab = Lab::load();
    let authorizer = lab.authorizer();
    let guids: Vec<(&str, String)> = ["alice", "bob", "frank"]
        .into_iter()
        .map(|user| (user, lab.guid("user", user)))
        .collect();
    let searches = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(SearchCounter(searches.clone()));
    // This test's runtime runs on this thread only: every search of the re-checks is seen.
    let _counting = tracing::subscriber::set_default(subscriber);
    let count = |expected_searches: usize, recheck: Recheck, what: &str| {
        let seen = searches.swap(0, Ordering::Relaxed);
        println!("{what}: {recheck:?} after {seen} searches");
        assert_eq!(seen, expected_searches, "{what}");
    };
    for (user, guid) in &guids {
        let recheck = authorizer.recheck(guid).await.unwrap();
        match *user {
            "alice" => count(1, recheck, "allowed"),
            // A member, disabled: judged from the same one answer.
            "bob" => count(1, recheck, "disabled"),
            // Not a member, enabled: the third question says the telework group exists.
            _ => count(3, recheck, "telework_off"),
        }
    }
    let recheck = authorizer
        .recheck("00000000-0000-0000-0000-0000000000a1")
        .await
        .unwrap();
    count(2, recheck, "gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn leaving_the_telework_group_or_being_disabled_revokes() {
    let _turn = one_change_at_a_time().await;
    let lab = Lab::load();
    let authorizer = lab.authorizer();
    let leave = ["group", "removemembers", "Telework-Allowed", "tgroup"];
    let rejoin = ["group", "addmembers", "Telework-Allowed", "tgroup"];
    revoked_until_undone(
        &lab,
        &authorizer,
        "tgroup",
        &leave,
        &rejoin,
        Reason::TeleworkOff,
    )
    .await;
    let disable = ["user", "disable", "tdisable"];
    let enable = ["user", "enable", "tdisable"];
    revoked_until_undone(
        &lab,
        &authorizer,
        "tdisable",
        &disable,
        &enable,
        Reason::AccountDisabled,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_nested_group_taken_out_of_the_chain_revokes_its_members() {
    let _turn = one_change_at_a_time().await;
    let lab = Lab::load();
    let authorizer = lab.authorizer();
    let out = ["group", "removemembers", "Telework-Allowed", "Developers"];
    let back = ["group", "addmembers", "Telework-Allowed", "Developers"];
    revoked_until_undone(&lab, &authorizer, "grace", &out, &back, Reason::TeleworkOff).await;
}

/// `user` is allowed; after `deploy/lab.sh tool CHANGE` a re-check revokes it for `reason`;
/// after `tool UNDO` (also run if the test fails half-way) it is allowed again.
async fn revoked_until_undone(
    lab: &Lab,
    authorizer: &Authorizer,
    user: &str,
    change: &[&str],
    undo: &[&str],
    reason: Reason,
) {
    assert_eq!(recheck_user(lab, authorizer, user).await, Recheck::Allowed);
    let restore = Restore {
        lab,
        undo: Undo::Tool(undo),
    };
    let mut args = vec!["tool"];
    args.extend_from_slice(change);
    lab.lab_sh(&args);
    assert_eq!(
        recheck_user(lab, authorizer, user).await,
        Recheck::Revoked(reason),
        "{user} after {change:?}"
    );
    drop(restore);
    assert_eq!(recheck_user(lab, authorizer, user).await, Recheck::Allowed);
}

/// The hour of the week now, 0 = Sunday 00:00–00:59 UTC, after waiting out the last seconds
/// of an hour (the test must finish within the hour it starts in).
async fn hour_of_week_with_time_to_spare() -> usize {
    loop {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let into_hour = unix % 3600;
        if into_hour < 3600 - 30 {
            // 1970-01-01 was a Thursday: hour 4 * 24 of a week that starts on Sunday.
            return usize::try_from((unix / 3600 + 4 * 24) % 168).unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3600 - into_hour + 1)).await;
    }
}

/// The LDIF that sets thours's `logonHours` to allow exactly `allowed` hours of the week.
fn logon_hours_ldif(
    dn: &str,
    allowed: impl Fn(usize) -> bool,
    file: &tempfile::NamedTempFile,
) -> String {
    let mut octets = [0u8; 21];
    for hour in (0..168).filter(|&hour| allowed(hour)) {
        octets[hour / 8] |= 1 << (hour % 8);
    }
    std::fs::write(file.path(), octets).unwrap();
    format!(
        "dn: {dn}\nchangetype: modify\nreplace: logonHours\nlogonHours:< file://{}\n-\n",
        file.path().display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn logon_hours_bit_order_matches_the_dc() {
    let _turn = one_change_at_a_time().await;
    let lab = Lab::load();
    let authorizer = lab.authorizer();
    let dn = lab.user_dn("thours");
    let now = hour_of_week_with_time_to_spare().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let _unrestricted = Restore {
        lab: &lab,
        undo: Undo::Ldif {
            url: lab.get("LDAP_URL").into(),
            ldif: format!("dn: {dn}\nchangetype: modify\nreplace: logonHours\n-\n"),
        },
    };

    // Only this hour, by adgate's reading of the bits: the DC lets thours bind, and so do we.
    lab.ldap_modify(&logon_hours_ldif(&dn, |hour| hour == now, &file));
    assert_eq!(lab.bind_as(&dn), Ok(()), "hour {now}");
    assert_eq!(
        recheck_user(&lab, &authorizer, "thours").await,
        Recheck::Allowed
    );
    assert_eq!(
        lab.login(&authorizer, "thours").await.decision,
        Decision::Accept
    );

    // Every hour but this one: the DC refuses the bind for the logon hours (530), and so do we.
    lab.ldap_modify(&logon_hours_ldif(&dn, |hour| hour != now, &file));
    let refused = lab.bind_as(&dn).unwrap_err();
    assert!(refused.contains("data 530"), "{refused}");
    assert_eq!(
        recheck_user(&lab, &authorizer, "thours").await,
        Recheck::Revoked(Reason::LogonRestricted)
    );
    assert_eq!(
        lab.login(&authorizer, "thours").await.decision,
        Decision::Reject(Reason::LogonRestricted)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_misspelt_telework_group_is_no_answer_not_a_revocation() {
    let lab = Lab::load();
    let directory =
        Directory::new(lab.config(vec![lab.get("LDAP_URL").into()], Duration::from_secs(5)))
            .unwrap();
    let policy = PolicyConfig {
        telework_group: lab
            .get("TELEWORK_GROUP")
            .replace("Telework-Allowed", "Telework-Alowed"),
        reply: Vec::new(),
    };
    let authorizer = Authorizer::new(directory, policy);
    for user in ["alice", "frank"] {
        let guid = lab.guid("user", user);
        let error = authorizer.recheck(&guid).await.unwrap_err();
        assert!(
            error.to_string().contains("Telework-Alowed"),
            "{user}: {error}"
        );
    }
    // A disabled account is disabled whatever the group.
    assert_eq!(
        recheck_user(&lab, &authorizer, "bob").await,
        Recheck::Revoked(Reason::AccountDisabled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn an_account_outside_the_base_dn_is_gone() {
    let lab = Lab::load();
    let mut config = lab.config(vec![lab.get("LDAP_URL").into()], Duration::from_secs(5));
    config.base_dn = format!("CN=Builtin,{}", lab.get("BASE_DN"));
    let policy = PolicyConfig {
        telework_group: lab.get("TELEWORK_GROUP").into(),
        reply: Vec::new(),
    };
    let authorizer = Authorizer::new(Directory::new(config).unwrap(), policy);
    assert_eq!(
        recheck_user(&lab, &authorizer, "alice").await,
        Recheck::Deleted
    );
    assert_eq!(
        recheck_user(&lab, &authorizer, "frank").await,
        Recheck::Deleted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_deleted_account_is_gone() {
    let _turn = one_change_at_a_time().await;
    let lab = Lab::load();
    let authorizer = lab.authorizer();
    let _ = lab.try_lab_sh(&["tool", "user", "delete", "tdeleted"]);
    lab.lab_sh(&["tool", "user", "create", "tdeleted", "--random-password"]);
    let deleted = Restore {
        lab: &lab,
        undo: Undo::Tool(&["user", "delete", "tdeleted"]),
    };
    lab.lab_sh(&[
        "tool",
        "group",
        "addmembers",
        "Telework-Allowed",
        "tdeleted",
    ]);
    let guid = lab.guid("user", "tdeleted");
    assert_eq!(authorizer.recheck(&guid).await.unwrap(), Recheck::Allowed);
    drop(deleted);
    assert_eq!(authorizer.recheck(&guid).await.unwrap(), Recheck::Deleted);
}

/// Samba re-runs pending notification searches every 5 s: a change shows within this.
const NOTIFIED_WITHIN: Duration = Duration::from_secs(8);

/// Makes a change (`make`), waits for its notification, and says how long after the change
/// began it came; then puts the change back (`undo`) and waits for that notification too, so
/// that it cannot be taken for the next change's.
async fn notified_after<T>(
    changes: &mut mpsc::Receiver<DirectoryChange>,
    what: &str,
    make: impl FnOnce() -> T,
    undo: Restore<'_>,
    wanted: impl Fn(&DirectoryChange) -> bool,
) -> Duration {
    let started = Instant::now();
    make();
    let latency = wait_for(changes, started, NOTIFIED_WITHIN, what, &wanted).await;
    let started = Instant::now();
    drop(undo);
    wait_for(
        changes,
        started,
        NOTIFIED_WITHIN,
        "the change back",
        &wanted,
    )
    .await;
    latency
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn changes_in_ad_are_notified() {
    let _turn = one_change_at_a_time().await;
    let lab = Lab::load();
    let url = lab.get("LDAP_URL").to_owned();
    let directory = Directory::new(lab.config(vec![url.clone()], Duration::from_secs(5))).unwrap();
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let (states, mut changes) = directory.watch_changes(WatchSettings::default(), cancel.clone());
    let resynced =
        |change: &DirectoryChange| matches!(change, DirectoryChange::Resynced { dc } if *dc == url);
    wait_for(
        &mut changes,
        Instant::now(),
        Duration::from_secs(10),
        "Resynced",
        resynced,
    )
    .await;
    assert_eq!(states.snapshot()[0].state, WatchState::Watching);
    let group = lab.guid("group", "Telework-Allowed");
    let tdisable = lab.guid("user", "tdisable");
    let (telework, tgroup) = (lab.get("TELEWORK_GROUP"), lab.user_dn("tgroup"));

    // A member removed: the group changes, not the user (memberOf is a backlink).
    let by_tool = notified_after(
        &mut changes,
        "the group's change",
        || {
            lab.lab_sh(&[
                "tool",
                "group",
                "removemembers",
                "Telework-Allowed",
                "tgroup",
            ])
        },
        Restore {
            lab: &lab,
            undo: Undo::Tool(&["group", "addmembers", "Telework-Allowed", "tgroup"]),
        },
        changed(&group, true),
    )
    .await;
    let by_ldap = notified_after(
        &mut changes,
        "the group's change",
        || {
            lab.ldap_modify(&format!(
                "dn: {telework}\nchangetype: modify\ndelete: member\nmember: {tgroup}\n-\n"
            ))
        },
        Restore {
            lab: &lab,
            undo: Undo::Ldif {
                url: url.clone(),
                ldif: format!(
                    "dn: {telework}\nchangetype: modify\nadd: member\nmember: {tgroup}\n-\n"
                ),
            },
        },
        changed(&group, true),
    )
    .await;
    // A user disabled: that user changes.
    let disabled = notified_after(
        &mut changes,
        "the user's change",
        || lab.lab_sh(&["tool", "user", "disable", "tdisable"]),
        Restore {
            lab: &lab,
            undo: Undo::Tool(&["user", "enable", "tdisable"]),
        },
        changed(&tdisable, false),
    )
    .await;
    println!(
        "notified after the change began: group member removed by samba-tool {by_tool:?}, by \
         ldapmodify {by_ldap:?}; user disabled by samba-tool {disabled:?}"
    );

    let status = &states.snapshot()[0];
    assert_eq!(status.state, WatchState::Watching);
    assert_eq!(status.losses, 0);
    // The three changes waited for above; the restores' own changes may still be on their way
    // (Samba re-runs notification searches every 5 s).
    assert!(status.changes >= 3, "{status:?}");
}

/// CPU time (user + system) the lab DC's LDAP server processes have used so far. Samba runs
/// its LDAP server as a pre-fork master and workers in the process group of its root process.
fn ldap_server_cpu(lab: &Lab) -> Duration {
    let root = std::fs::read_to_string(format!("{}/samba.pid", lab.get("LAB_DIR"))).unwrap();
    let root = root.trim();
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ... utime(14) stime(15): fields after the comm's ')'.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        let comm = head.split_once(" (").map_or("", |(_, comm)| comm);
        if fields.get(2) == Some(&root) && comm.starts_with("ldap") {
            ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        }
    }
    // /proc counts in USER_HZ, 100 a second on Linux.
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn rechecking_fifty_live_users_costs_the_dc_little() {
    let _turn = one_change_at_a_time().await;
    let lab = Lab::load();
    let authorizer = Arc::new(lab.authorizer());
    let allowed: Vec<String> = [
        "alice", "grace", "heidi", "dave", "erin", "tgroup", "tdisable", "lockme", "thours",
        "mallory1",
    ]
    .into_iter()
    .map(|user| lab.guid("user", user))
    .collect();
    let live: Vec<String> = allowed.iter().cycle().take(50).cloned().collect();
    let sweep = |authorizer: Arc<Authorizer>, live: Vec<String>| async move {
        let mut rechecks = tokio::task::JoinSet::new();
        for guid in live {
            let authorizer = authorizer.clone();
            rechecks.spawn(async move { authorizer.recheck(&guid).await });
        }
        while let Some(recheck) = rechecks.join_next().await {
            assert_eq!(recheck.unwrap().unwrap(), Recheck::Allowed);
        }
    };
    sweep(authorizer.clone(), live.clone()).await; // connect and warm up
    const SWEEPS: u32 = 20;
    let (cpu, started) = (ldap_server_cpu(&lab), Instant::now());
    for _ in 0..SWEEPS {
        sweep(authorizer.clone(), live.clone()).await;
    }
    let (cpu, elapsed) = (ldap_server_cpu(&lab) - cpu, started.elapsed());
    let per_sweep = cpu / SWEEPS;
    println!(
        "{SWEEPS} sweeps of 50 re-checks: DC LDAP CPU {cpu:?} ({per_sweep:?} a sweep, {:?} a \
         re-check; every 5 s: {:.1} ms/s), wall {:?} a sweep",
        per_sweep / 50,
        per_sweep.as_secs_f64() * 1000.0 / 5.0,
        elapsed / SWEEPS
    );
    // The notes' estimate is 0.6 ms a user; fail only far beyond it.
    assert!(
        per_sweep < Duration::from_millis(250),
        "{per_sweep:?} a sweep"
    );
}
