//! `adgate nas hold-eap-tls`: many EAP-TLS logins held open at once, each paused after a few
//! round trips, then finished — the load of peers that start a handshake and are slow to go
//! on, and what `deploy/bench-eap-memory.sh` measures adgate's memory under. Each worker drives
//! its share of the conversations one round trip at a time over its own socket, so ten
//! thousand conversations need only as many sockets as workers.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adgate_radius::RadiusClient;
use anyhow::{bail, Context};

use crate::nas_eap_tls::{EapTlsConversation, EapTlsLogin};

/// How many conversations to hold, where to pause them, and for how long.
pub struct Hold {
    pub conversations: usize,
    /// Round trips before the pause: 2 ends on the first Access-Challenge with TLS data, when
    /// adgate has computed its first flight (ServerHello to ServerHelloDone) and sent only its
    /// first fragment — the most a conversation holds.
    pub round_trips: usize,
    pub hold: Duration,
}

/// Starts `hold.conversations` logins as `user` across `clients`, pauses each after
/// `hold.round_trips`, says so on stdout ("holding N conversations"), waits `hold.hold`, then
/// finishes them all. Whether every one ended in an accept with the right MPPE keys.
pub async fn hold_eap_tls(
    login: Arc<EapTlsLogin>,
    clients: Vec<RadiusClient>,
    user: Arc<String>,
    hold: Hold,
) -> anyhow::Result<bool> {
    if clients.is_empty() || hold.conversations == 0 || hold.round_trips == 0 {
        bail!("--concurrency, --conversations and --round-trips must be at least 1");
    }
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut starting = Vec::with_capacity(clients.len());
    for client in clients {
        let (login, user, next) = (login.clone(), user.clone(), next.clone());
        let (total, round_trips) = (hold.conversations, hold.round_trips);
        starting.push(tokio::spawn(async move {
            let mut held = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                held.push(paused(&login, &client, &user, round_trips).await?);
            }
            anyhow::Ok((client, held))
        }));
    }
    let mut workers = Vec::with_capacity(starting.len());
    for task in starting {
        workers.push(task.await.context("hold worker failed")??);
    }
    println!(
        "holding {} conversations, each after {} round trips ({:.1} s to start them)",
        hold.conversations,
        hold.round_trips,
        started.elapsed().as_secs_f64()
    );
    std::io::stdout().flush()?;
    tokio::time::sleep(hold.hold).await;

    let finishing_from = Instant::now();
    let mut finishing = Vec::with_capacity(workers.len());
    for (client, held) in workers {
        let login = login.clone();
        finishing.push(tokio::spawn(async move {
            let mut accepted = 0;
            for conversation in held {
                let outcome = conversation.finish(&login, &client).await;
                accepted += usize::from(outcome.is_ok_and(|o| o.is_accept_with_keys()));
            }
            accepted
        }));
    }
    let mut accepted = 0;
    for task in finishing {
        accepted += task.await.context("hold worker failed")?;
    }
    println!(
        "finished: {accepted} of {} accepted with the right MPPE keys ({:.1} s to finish them)",
        hold.conversations,
        finishing_from.elapsed().as_secs_f64()
    );
    Ok(accepted == hold.conversations)
}

/// A login as `user` after `round_trips`, still undecided.
async fn paused(
    login: &EapTlsLogin,
    client: &RadiusClient,
    user: &str,
    round_trips: usize,
) -> anyhow::Result<EapTlsConversation> {
    let mut conversation = login.start(user)?;
    for round_trip in 1..=round_trips {
        if let Some(outcome) = conversation.step(login, client).await? {
            bail!("the login ended after {round_trip} round trips, before the pause: {outcome}");
        }
    }
    Ok(conversation)
}
