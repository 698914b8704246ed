//! `adgate nas`: a simulated VPN appliance. It sends the same PAP Access-Requests a real NAS
//! sends (Message-Authenticator first, retransmissions on timeout) so the demo, the integration
//! tests and the benchmark exercise adgate over real UDP.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adgate_radius::{ClientOptions, RadiusClient, ResponseCode, SharedSecret};
use anyhow::{bail, Context};

use crate::cli::{NasCommand, NasTarget};
use crate::nas_eap_tls::EapTlsLogin;
use crate::secret_file;

pub async fn run(command: NasCommand) -> anyhow::Result<ExitCode> {
    match command {
        NasCommand::Pap {
            target,
            password_file,
            user,
        } => {
            let client = connect(&target)?;
            let password = secret_file::read(&password_file)
                .map_err(|e| anyhow::anyhow!("--password-file: {e}"))?;
            let response = client
                .pap(user.as_bytes(), &password)
                .await
                .with_context(|| format!("no valid answer from {}", target.server))?;
            let (text, code) = match response.code {
                ResponseCode::Accept => ("Access-Accept", ExitCode::SUCCESS),
                ResponseCode::Reject => ("Access-Reject", ExitCode::from(1)),
                ResponseCode::Challenge => ("Access-Challenge", ExitCode::from(1)),
            };
            println!("{user}: {text}");
            Ok(code)
        }
        NasCommand::Bench {
            target,
            password_file,
            concurrency,
            requests,
            user,
        } => {
            let password = secret_file::read(&password_file)
                .map_err(|e| anyhow::anyhow!("--password-file: {e}"))?;
            bench(&target, &user, &password, concurrency, requests).await?;
            Ok(ExitCode::SUCCESS)
        }
        NasCommand::EapTls { target, peer, user } => {
            let client = connect(&target)?;
            let secret = secret_file::read(&target.secret_file)
                .map_err(|e| anyhow::anyhow!("--secret-file: {e}"))?;
            let login = EapTlsLogin::new(&peer, SharedSecret::new(secret.to_vec()))?;
            let outcome = login.run(&client, &user).await?;
            println!("{user}: {outcome}");
            Ok(if outcome.is_accept_with_keys() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        NasCommand::BenchEapTls {
            target,
            peer,
            concurrency,
            requests,
            user,
        } => {
            let secret = secret_file::read(&target.secret_file)
                .map_err(|e| anyhow::anyhow!("--secret-file: {e}"))?;
            let login = Arc::new(EapTlsLogin::new(&peer, SharedSecret::new(secret.to_vec()))?);
            let clients = (0..concurrency)
                .map(|_| connect(&target))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let user = Arc::new(user);
            drive(clients, requests, move |client| {
                let (login, user) = (login.clone(), user.clone());
                async move {
                    login
                        .run(&client, &user)
                        .await
                        .is_ok_and(|outcome| outcome.is_accept_with_keys())
                }
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn connect(target: &NasTarget) -> anyhow::Result<RadiusClient> {
    let secret = secret_file::read(&target.secret_file)
        .map_err(|e| anyhow::anyhow!("--secret-file: {e}"))?;
    if !(target.timeout_s > 0.0 && target.timeout_s <= 60.0) {
        bail!("--timeout-s must be between 0 and 60 seconds");
    }
    let options = ClientOptions {
        timeout: Duration::from_secs_f64(target.timeout_s),
        retries: target.retries,
        send_message_authenticator: !target.no_message_authenticator,
        nas_identifier: Some(target.nas_identifier.clone()),
    };
    RadiusClient::new(target.server, SharedSecret::new(secret.to_vec()), options)
        .context("cannot open a UDP socket")
}

/// Runs `requests` logins with `concurrency` simulated NAS sockets and prints the figures.
async fn bench(
    target: &NasTarget,
    user: &str,
    password: &[u8],
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<()> {
    if concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let clients = (0..concurrency)
        .map(|_| connect(target))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let user = Arc::new(user.as_bytes().to_vec());
    let password = Arc::new(zeroize::Zeroizing::new(password.to_vec()));
    drive(clients, requests, move |client| {
        let (user, password) = (user.clone(), password.clone());
        async move {
            matches!(
                client.pap(&user, &password).await.map(|r| r.code),
                Ok(ResponseCode::Accept)
            )
        }
    })
    .await
}

/// Runs `requests` logins spread over one task per worker (each with its own NAS socket),
/// then prints logins/s and latency percentiles. `login` says whether one was accepted.
pub(crate) async fn drive<W, F, Fut>(
    workers: Vec<W>,
    requests: usize,
    login: F,
) -> anyhow::Result<()>
where
    W: Send + Sync + 'static,
    F: Fn(Arc<W>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    if workers.is_empty() || requests == 0 {
        bail!("--concurrency and --requests must be at least 1");
    }
    let concurrency = workers.len();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in workers {
        let (next, login, worker) = (next.clone(), login.clone(), Arc::new(worker));
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let sent = Instant::now();
                let accepted = login(worker.clone()).await;
                outcomes.push((sent.elapsed(), accepted));
            }
            outcomes
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut accepted = 0;
    for task in tasks {
        for (latency, was_accepted) in task.await.context("bench worker failed")? {
            latencies.push(latency);
            accepted += usize::from(was_accepted);
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies[index.min(latencies.len() - 1)].as_secs_f64() * 1000.0
    };
    println!("requests      {}", latencies.len());
    println!("accepted      {accepted}");
    println!("concurrency   {concurrency}");
    println!("elapsed_s     {:.3}", elapsed.as_secs_f64());
    println!(
        "logins_per_s  {:.1}",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!("p50_ms        {:.2}", percentile(0.50));
    println!("p99_ms        {:.2}", percentile(0.99));
    Ok(())
}
