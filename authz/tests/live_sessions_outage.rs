//! Change notifications when there are two domain controllers and one hangs or stops: each DC
//! is watched on its own, a hung DC is found by the heartbeat, a stopped one is reported lost
//! and resynced when it is back, and a re-check against a stopped DC is no answer (the session
//! is kept), never a revocation.
//!
//! These tests freeze and stop the lab's dc1 and bring up its second DC (`deploy/lab.sh dc2
//! up`, leaving it running), so they live in a test binary of their own (cargo runs test
//! binaries one after another) and take turns. Run inside the lab's namespace:
//! `ip netns exec adgate-lab cargo test -p adgate-authz --test live_sessions_outage --
//! --ignored --nocapture`.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use adgate_authz::{Directory, DirectoryChange, WatchSettings, WatchState, WatchStates};
use common::{changed, wait_for, Lab, Restore, Undo};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The directory timeout: the heartbeat must answer within it.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Short, so that a hung DC is found quickly.
const HEARTBEAT: Duration = Duration::from_secs(2);

static DC_TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    DC_TURNS.lock().await
}

/// dc1 and dc2, both up and watched; the watch ends when the returned token is dropped.
struct TwoDcs {
    lab: Lab,
    dc1: String,
    dc2: String,
    states: WatchStates,
    changes: mpsc::Receiver<DirectoryChange>,
    _stop: tokio_util::sync::DropGuard,
}

impl TwoDcs {
    async fn watched() -> TwoDcs {
        let lab = Lab::load();
        lab.lab_sh(&["dc2", "up"]);
        let (dc1, dc2) = (
            lab.get("LDAP_URL").to_owned(),
            lab.get("DC2_LDAP_URL").to_owned(),
        );
        let directory =
            Directory::new(lab.config(vec![dc1.clone(), dc2.clone()], TIMEOUT)).unwrap();
        let cancel = CancellationToken::new();
        let settings = WatchSettings {
            heartbeat: HEARTBEAT,
            ..WatchSettings::default()
        };
        let (states, mut changes) = directory.watch_changes(settings, cancel.clone());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let mut waiting = vec![dc1.clone(), dc2.clone()];
        while !waiting.is_empty() {
            match tokio::time::timeout_at(deadline, changes.recv()).await {
                Ok(Some(DirectoryChange::Resynced { dc })) => waiting.retain(|url| *url != dc),
                Ok(Some(_)) => {}
                other => panic!("{waiting:?} not watched within 15 s: {other:?}"),
            }
        }
        TwoDcs {
            lab,
            dc1,
            dc2,
            states,
            changes,
            _stop: cancel.drop_guard(),
        }
    }

    fn state(&self, dc: usize) -> WatchState {
        self.states.snapshot()[dc].state
    }
}

fn resynced(url: &str) -> impl Fn(&DirectoryChange) -> bool + '_ {
    move |change| matches!(change, DirectoryChange::Resynced { dc } if dc == url)
}

fn lost(url: &str) -> impl Fn(&DirectoryChange) -> bool + '_ {
    move |change| matches!(change, DirectoryChange::Lost { dc, .. } if dc == url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_change_made_on_the_second_dc_is_notified_by_it() {
    let _turn = one_at_a_time().await;
    let mut dcs = TwoDcs::watched().await;
    let lab = &dcs.lab;
    let group = lab.guid("group", "Telework-Allowed");
    let (telework, tgroup) = (lab.get("TELEWORK_GROUP"), lab.user_dn("tgroup"));
    let member = |change: &str| {
        format!("dn: {telework}\nchangetype: modify\n{change}: member\nmember: {tgroup}\n-\n")
    };
    let _back = Restore {
        lab,
        undo: Undo::Ldif {
            url: dcs.dc2.clone(),
            ldif: member("add"),
        },
    };
    let started = Instant::now();
    lab.try_ldap_modify(&dcs.dc2, &member("delete")).unwrap();
    let dc2 = dcs.dc2.clone();
    let from_dc2 = move |change: &DirectoryChange| {
        changed(&group, true)(change)
            && matches!(change, DirectoryChange::Changed { dc, .. } if *dc == dc2)
    };
    let by_dc2 = wait_for(
        &mut dcs.changes,
        started,
        Duration::from_secs(8),
        "dc2's notification",
        from_dc2,
    )
    .await;
    println!("a group change made on dc2 was notified by dc2 after {by_dc2:?}");
    assert_eq!(dcs.state(0), WatchState::Watching);
    assert_eq!(dcs.state(1), WatchState::Watching);
}

/// Freezes dc1's samba (its whole process group: connections stay open, nothing answers)
/// until dropped.
struct FrozenDc1(String);

impl FrozenDc1 {
    fn freeze(lab: &Lab) -> FrozenDc1 {
        let pid = std::fs::read_to_string(format!("{}/samba.pid", lab.get("LAB_DIR"))).unwrap();
        let frozen = FrozenDc1(format!("-{}", pid.trim()));
        frozen.signal("-STOP");
        frozen
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, "--", &self.0])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {} failed", self.0);
    }
}

impl Drop for FrozenDc1 {
    fn drop(&mut self) {
        self.signal("-CONT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_hung_dc_is_found_by_the_heartbeat() {
    let _turn = one_at_a_time().await;
    let mut dcs = TwoDcs::watched().await;
    let frozen = FrozenDc1::freeze(&dcs.lab);
    let found = wait_for(
        &mut dcs.changes,
        Instant::now(),
        HEARTBEAT + TIMEOUT + Duration::from_secs(2),
        "dc1 lost",
        lost(&dcs.dc1),
    )
    .await;
    println!("hung dc1 found by the heartbeat after {found:?}");
    assert_eq!(dcs.state(0), WatchState::Down);
    assert_eq!(dcs.state(1), WatchState::Watching);
    let thawed = Instant::now();
    drop(frozen);
    let back = wait_for(
        &mut dcs.changes,
        thawed,
        Duration::from_secs(20),
        "dc1 resynced",
        resynced(&dcs.dc1),
    )
    .await;
    println!("dc1 watched again {back:?} after it was thawed");
    assert_eq!(dcs.state(0), WatchState::Watching);
    let status = &dcs.states.snapshot()[0];
    assert!(status.losses >= 1, "{status:?}");
}

/// Starts dc1 again when dropped, whatever happened.
struct StartDc1<'a>(&'a Lab);

impl Drop for StartDc1<'_> {
    fn drop(&mut self) {
        if let Err(failure) = self.0.try_lab_sh(&["start"]) {
            if std::thread::panicking() {
                eprintln!("could not start dc1 again: {failure}");
            } else {
                panic!("{failure}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_stopped_dc_is_lost_then_resynced_and_rechecks_meanwhile_are_no_answer() {
    let _turn = one_at_a_time().await;
    let mut dcs = TwoDcs::watched().await;
    let lab = &dcs.lab;
    let alice = lab.guid("user", "alice");
    let only_dc1 = lab.authorizer_for(vec![dcs.dc1.clone()], TIMEOUT);
    assert!(only_dc1.recheck(&alice).await.is_ok());

    let stopped = Instant::now();
    let start_again = StartDc1(lab);
    lab.lab_sh(&["stop"]);
    let lost_after = wait_for(
        &mut dcs.changes,
        stopped,
        Duration::from_secs(20),
        "dc1 lost",
        lost(&dcs.dc1),
    )
    .await;
    println!("stopped dc1 reported lost {lost_after:?} after `lab.sh stop` began");
    assert_eq!(dcs.state(1), WatchState::Watching);
    let recheck = only_dc1.recheck(&alice).await;
    assert!(recheck.is_err(), "{recheck:?}");

    let started = Instant::now();
    drop(start_again);
    let back = wait_for(
        &mut dcs.changes,
        started,
        Duration::from_secs(90),
        "dc1 resynced",
        resynced(&dcs.dc1),
    )
    .await;
    println!("dc1 watched again {back:?} after `lab.sh start` began");
    assert_eq!(dcs.state(0), WatchState::Watching);
    assert_eq!(
        only_dc1.recheck(&alice).await.unwrap(),
        adgate_authz::Recheck::Allowed
    );
}
