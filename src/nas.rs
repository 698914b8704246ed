//! `adgate nas`: a simulated VPN appliance. It sends the same PAP (and MS-CHAPv2, EAP-TLS)
//! Access-Requests a real NAS sends (Message-Authenticator first, retransmissions on timeout), Status-Server probes and
//! retransmissions, so the demo, the integration tests and the benchmarks exercise adgate over
//! real UDP.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adgate_radius::{ClientOptions, RadiusClient, ResponseCode, SharedSecret};
use anyhow::{bail, Context};

use crate::cli::{BenchKind, EapTlsPeerArgs, NasCommand, NasTarget};
use crate::nas_eap_tls::EapTlsLogin;
use crate::nas_eap_tls_hold::{hold_eap_tls, Hold};
use crate::nas_mschapv2::{MsChapV2Login, MsChapV2Outcome};
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
                // The client verifies codes against the request; a PAP request gets none.
                ResponseCode::AccountingResponse => ("Accounting-Response", ExitCode::from(2)),
            };
            println!("{user}: {text}");
            Ok(code)
        }
        NasCommand::Bench {
            target,
            password_file,
            kind,
            concurrency,
            requests,
            user,
        } => {
            let password = secret_file::read(&password_file)
                .map_err(|e| anyhow::anyhow!("--password-file: {e}"))?;
            bench(&target, kind, &user, &password, concurrency, requests).await?;
            Ok(ExitCode::SUCCESS)
        }
        NasCommand::MsChapv2 {
            target,
            password_file,
            user,
        } => {
            let client = connect(&target)?;
            let login = ms_chapv2_login(&target, &password_file)?;
            let outcome = login.run(&client, &user).await?;
            println!("{user}: {outcome}");
            Ok(if outcome == MsChapV2Outcome::Verified {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        NasCommand::EapTls { target, peer, user } => {
            let client = connect(&target)?;
            let login = eap_tls_login(&target, &peer)?;
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
            let login = Arc::new(eap_tls_login(&target, &peer)?);
            let clients = connect_all(&target, concurrency)?;
            let user = Arc::new(user);
            drive("EapTls", clients, requests, move |client| {
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
        NasCommand::HoldEapTls {
            target,
            peer,
            conversations,
            round_trips,
            hold_s,
            concurrency,
            user,
        } => {
            let login = Arc::new(eap_tls_login(&target, &peer)?);
            let clients = connect_all(&target, concurrency)?;
            let hold = Hold {
                conversations,
                round_trips,
                hold: Duration::from_secs(hold_s),
            };
            let all_accepted = hold_eap_tls(login, clients, Arc::new(user), hold).await?;
            Ok(if all_accepted {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// The MS-CHAPv2 peer for the password in `password_file`, checking accepts with the
/// target's shared secret.
fn ms_chapv2_login(target: &NasTarget, password_file: &Path) -> anyhow::Result<MsChapV2Login> {
    let password =
        secret_file::read(password_file).map_err(|e| anyhow::anyhow!("--password-file: {e}"))?;
    let secret = secret_file::read(&target.secret_file)
        .map_err(|e| anyhow::anyhow!("--secret-file: {e}"))?;
    MsChapV2Login::new(&password, SharedSecret::new(secret.to_vec()))
}

/// The NAS simulator's EAP-TLS peer, checking accepts with the target's shared secret.
fn eap_tls_login(target: &NasTarget, peer: &EapTlsPeerArgs) -> anyhow::Result<EapTlsLogin> {
    let secret = secret_file::read(&target.secret_file)
        .map_err(|e| anyhow::anyhow!("--secret-file: {e}"))?;
    EapTlsLogin::new(peer, SharedSecret::new(secret.to_vec()))
}

/// `count` simulated NAS sockets to the target.
fn connect_all(target: &NasTarget, count: usize) -> anyhow::Result<Vec<RadiusClient>> {
    (0..count).map(|_| connect(target)).collect()
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

/// Runs `requests` requests of `kind` with `concurrency` simulated NAS sockets and prints the
/// figures. A request counts as `ok` when it got the answer expected of it: an Access-Accept,
/// or for retransmissions, the very octets of the first answer.
async fn bench(
    target: &NasTarget,
    kind: BenchKind,
    user: &str,
    password: &[u8],
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<()> {
    let clients = connect_all(target, concurrency)?;
    let label = format!("{kind:?}");
    let user = Arc::new(user.as_bytes().to_vec());
    let password = Arc::new(zeroize::Zeroizing::new(password.to_vec()));
    match kind {
        BenchKind::Pap => {
            drive(&label, clients, requests, move |client| {
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
        BenchKind::StatusServer => {
            drive(&label, clients, requests, |client| async move {
                matches!(
                    client.status_server().await.map(|r| r.code),
                    Ok(ResponseCode::Accept)
                )
            })
            .await
        }
        BenchKind::MsChapv2 => {
            let secret = secret_file::read(&target.secret_file)
                .map_err(|e| anyhow::anyhow!("--secret-file: {e}"))?;
            let login = Arc::new(MsChapV2Login::new(
                &password,
                SharedSecret::new(secret.to_vec()),
            )?);
            let user = Arc::new(String::from_utf8_lossy(&user).into_owned());
            drive(&label, clients, requests, move |client| {
                let (login, user) = (login.clone(), user.clone());
                async move {
                    matches!(
                        login.run(&client, &user).await,
                        Ok(MsChapV2Outcome::Verified)
                    )
                }
            })
            .await
        }
        BenchKind::Retransmission => {
            let mut retransmissions = Vec::with_capacity(clients.len());
            for client in &clients {
                retransmissions.push(Retransmission::decide(client, &user, &password).await?);
            }
            drive(
                &label,
                retransmissions,
                requests,
                |retransmission| async move { retransmission.resend().await.unwrap_or(false) },
            )
            .await
        }
    }
}

/// Runs `requests` requests spread over one task per worker (each with its own NAS socket),
/// then prints requests/s and latency percentiles. `send` says whether one got the answer
/// expected of it.
pub(crate) async fn drive<W, F, Fut>(
    label: &str,
    workers: Vec<W>,
    requests: usize,
    send: F,
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
        let (next, send, worker) = (next.clone(), send.clone(), Arc::new(worker));
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let sent = Instant::now();
                let ok = send(worker.clone()).await;
                outcomes.push((sent.elapsed(), ok));
            }
            outcomes
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut ok = 0;
    for task in tasks {
        for (latency, was_ok) in task.await.context("bench worker failed")? {
            latencies.push(latency);
            ok += usize::from(was_ok);
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    println!("kind          {label}");
    println!("requests      {}", latencies.len());
    println!("ok            {ok}");
    println!("concurrency   {concurrency}");
    println!("elapsed_s     {:.3}", elapsed.as_secs_f64());
    println!(
        "per_second    {:.1}",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!("p50_ms        {:.2}", percentile(0.50));
    println!("p99_ms        {:.2}", percentile(0.99));
    Ok(())
}

/// One decided PAP request, resent as a NAS retransmits it.
struct Retransmission {
    socket: tokio::net::UdpSocket,
    request: Vec<u8>,
    first_answer: Vec<u8>,
}

impl Retransmission {
    /// Sends the request once, so that it is decided and its answer cached.
    async fn decide(
        client: &RadiusClient,
        user: &[u8],
        password: &[u8],
    ) -> anyhow::Result<Retransmission> {
        let request = client.pap_datagram(user, password).await?;
        let socket = tokio::net::UdpSocket::bind(("127.0.0.1", 0)).await?;
        socket.connect(client.server()).await?;
        let mut retransmission = Retransmission {
            socket,
            request,
            first_answer: Vec::new(),
        };
        retransmission.first_answer = retransmission.exchange().await?;
        Ok(retransmission)
    }

    /// Resends the request; true when the answer is the first one, octet for octet.
    async fn resend(&self) -> anyhow::Result<bool> {
        Ok(self.exchange().await? == self.first_answer)
    }

    async fn exchange(&self) -> anyhow::Result<Vec<u8>> {
        self.socket.send(&self.request).await?;
        let mut buffer = vec![0; 4096];
        let length = tokio::time::timeout(Duration::from_secs(5), self.socket.recv(&mut buffer))
            .await
            .context("no answer to a retransmission")??;
        buffer.truncate(length);
        Ok(buffer)
    }
}
