//! The control channel: `adgate sessions list|disconnect` talking to the running server over a
//! Unix socket, so an admin can cut a stolen laptop's tunnel before AD is even updated.
//!
//! Only root, adgate's own user and members of `sessions.control_group` may use it: the socket
//! is mode 0660 owned by that group, and the server checks the peer's credentials
//! (SO_PEERCRED) on every connection anyway, recording who asked with each cut. One JSON
//! request line, one JSON answer line; requests are bounded in size and time.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use nix::unistd::{Gid, Group, Uid, User};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::revoker::CutReport;
use super::{LiveSessions, Revoker, Target};
use crate::audit::Requester;

/// A request line longer than this is refused.
const MAX_REQUEST: u64 = 16 * 1024;
/// A peer must send its request within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A disconnect waits for the NAS's answers: its retransmissions take about 7 s.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// What `adgate sessions` asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlCommand {
    List,
    Disconnect {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// One live session, as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListedSession {
    pub client: String,
    /// Acct-Session-Id; absent while the accept awaits its Accounting-Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framed_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_station_id: Option<String>,
    pub since: String,
}

/// The server's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum ControlAnswer {
    Sessions { sessions: Vec<ListedSession> },
    Cuts { cuts: Vec<CutReport> },
    Refused { error: String },
}

pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    group: Option<Gid>,
}

impl ControlServer {
    /// Binds the socket at `path` (creating its directory, mode 0750, if it is missing, and
    /// replacing a stale socket left by a crash — never a live one, nor another kind of file),
    /// mode 0660, group `group` when the system has it.
    pub fn bind(path: &Path, group: &str) -> anyhow::Result<ControlServer> {
        let key = "sessions.control_socket";
        if let Some(dir) = path.parent().filter(|dir| !dir.exists()) {
            std::fs::DirBuilder::new()
                .mode(0o750)
                .recursive(true)
                .create(dir)
                .with_context(|| format!("cannot create {} ({key})", dir.display()))?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    anyhow::bail!(
                        "{} is the control socket of another running adgate ({key})",
                        path.display()
                    );
                }
                std::fs::remove_file(path)
                    .with_context(|| format!("cannot replace {} ({key})", path.display()))?;
            }
            Ok(_) => anyhow::bail!("{} exists and is not a socket ({key})", path.display()),
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("cannot inspect {}", path.display()))
            }
        }
        let listener = UnixListener::bind(path)
            .with_context(|| format!("cannot listen on {} ({key})", path.display()))?;
        let group = Group::from_name(group).ok().flatten().map(|g| g.gid);
        if let Some(gid) = group {
            nix::unistd::chown(path, None, Some(gid))
                .with_context(|| format!("cannot give {} to group {gid}", path.display()))?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        Ok(ControlServer {
            listener,
            path: path.to_owned(),
            group,
        })
    }

    /// Answers until `cancel`, then removes the socket.
    pub async fn run(
        self,
        sessions: Arc<LiveSessions>,
        revoker: Arc<Revoker>,
        cancel: CancellationToken,
    ) {
        tracing::info!(path = %self.path.display(), "control socket listening");
        loop {
            let accepted = tokio::select! {
                () = cancel.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    let (sessions, revoker) = (sessions.clone(), revoker.clone());
                    let group = self.group;
                    tokio::spawn(async move {
                        if let Err(error) = serve(stream, group, &sessions, &revoker).await {
                            tracing::warn!(%error, "control request failed");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "control socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(
    mut stream: UnixStream,
    group: Option<Gid>,
    sessions: &LiveSessions,
    revoker: &Arc<Revoker>,
) -> anyhow::Result<()> {
    let credentials = stream.peer_cred().context("no peer credentials")?;
    let uid = credentials.uid();
    let pid = credentials.pid().unwrap_or(0);
    let user = User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|user| user.name);
    let answer = if !allowed(uid, user.as_deref(), credentials.gid(), group) {
        tracing::warn!(
            uid,
            pid,
            user = user.as_deref().unwrap_or("-"),
            "control request refused: not root, adgate or its group"
        );
        ControlAnswer::Refused {
            error: "permission denied: only root, adgate's user and its control group may use this socket".into(),
        }
    } else {
        let (reader, _) = stream.split();
        let mut line = String::new();
        let read = tokio::time::timeout(
            REQUEST_TIMEOUT,
            BufReader::new(reader.take(MAX_REQUEST)).read_line(&mut line),
        )
        .await;
        match read {
            Ok(Ok(_)) => match serde_json::from_str::<ControlCommand>(&line) {
                Ok(command) => {
                    let requester = Requester {
                        uid,
                        user,
                        pid,
                        comment: None,
                    };
                    answer(command, requester, sessions, revoker).await
                }
                Err(error) => ControlAnswer::Refused {
                    error: format!("not a request: {error}"),
                },
            },
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => ControlAnswer::Refused {
                error: "no request within 10 s".into(),
            },
        }
    };
    let mut text = serde_json::to_string(&answer)?;
    text.push('\n');
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

/// Root, adgate's own user, or a member of the control group (primary or supplementary).
fn allowed(uid: u32, user: Option<&str>, primary_gid: u32, group: Option<Gid>) -> bool {
    if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
        return true;
    }
    let Some(group) = group else { return false };
    if primary_gid == group.as_raw() {
        return true;
    }
    let Some(user) = user.and_then(|user| std::ffi::CString::new(user).ok()) else {
        return false;
    };
    nix::unistd::getgrouplist(&user, Gid::from_raw(primary_gid))
        .is_ok_and(|groups| groups.contains(&group))
}

async fn answer(
    command: ControlCommand,
    mut requester: Requester,
    sessions: &LiveSessions,
    revoker: &Arc<Revoker>,
) -> ControlAnswer {
    match command {
        ControlCommand::List => ControlAnswer::Sessions {
            sessions: sessions
                .all(Utc::now())
                .into_iter()
                .map(|c| ListedSession {
                    client: c.target.client().to_owned(),
                    session_id: match &c.target {
                        Target::Session(key) => Some(key.session_id.clone()),
                        Target::Accept { .. } => None,
                    },
                    user_name: String::from_utf8_lossy(&c.nas.user_name).into_owned(),
                    dn: c.account.map(|a| a.dn),
                    framed_ip_address: c.nas.framed_ip_address.map(|ip| ip.to_string()),
                    calling_station_id: c.nas.calling_station_id,
                    since: c.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                })
                .collect(),
        },
        ControlCommand::Disconnect {
            user: None,
            session: None,
            ..
        } => ControlAnswer::Refused {
            error: "name a user or a session".into(),
        },
        ControlCommand::Disconnect {
            user,
            session,
            reason,
        } => {
            tracing::info!(
                uid = requester.uid,
                requester = requester.user.as_deref().unwrap_or("-"),
                user = user.as_deref().unwrap_or("-"),
                session = session.as_deref().unwrap_or("-"),
                "disconnect requested by hand"
            );
            requester.comment = reason;
            let cuts = tokio::time::timeout(
                ANSWER_TIMEOUT,
                revoker.disconnect_by_hand(user.as_deref(), session.as_deref(), requester),
            )
            .await
            .unwrap_or_default();
            ControlAnswer::Cuts { cuts }
        }
    }
}

/// `adgate sessions …`: sends `command` to the server at `socket`, prints the answer, and
/// returns the exit code (0 done, 1 nothing matched or a cut failed, 2 refused or unreachable).
pub async fn run_client(socket: &Path, command: ControlCommand, json: bool) -> anyhow::Result<i32> {
    let mut stream = UnixStream::connect(socket).await.with_context(|| {
        format!(
            "cannot reach adgate's control socket {} (is adgate running, and are you root or in its control group?)",
            socket.display()
        )
    })?;
    let mut request = serde_json::to_string(&command)?;
    request.push('\n');
    // A server that refuses the caller answers without reading the request and closes: the
    // write may then fail, but its answer is there to read.
    if let Err(error) = stream.write_all(request.as_bytes()).await {
        if error.kind() != ErrorKind::BrokenPipe {
            return Err(error.into());
        }
    }
    let mut line = String::new();
    BufReader::new(stream)
        .take(16 * 1024 * 1024)
        .read_line(&mut line)
        .await?;
    let answer: ControlAnswer =
        serde_json::from_str(&line).context("adgate's control socket gave no valid answer")?;
    if json {
        println!("{}", line.trim_end());
    }
    Ok(match answer {
        ControlAnswer::Sessions { sessions } => {
            if !json {
                for s in &sessions {
                    println!(
                        "{since}  client={client}  session={session}  user={user}  dn={dn}  framed_ip={ip}  from={from}",
                        since = s.since,
                        client = s.client,
                        session = s.session_id.as_deref().unwrap_or("(awaiting accounting)"),
                        user = s.user_name,
                        dn = s.dn.as_deref().unwrap_or("-"),
                        ip = s.framed_ip_address.as_deref().unwrap_or("-"),
                        from = s.calling_station_id.as_deref().unwrap_or("-"),
                    );
                }
                println!("{} live session(s)", sessions.len());
            }
            0
        }
        ControlAnswer::Cuts { cuts } => {
            if !json {
                for cut in &cuts {
                    println!(
                        "client={}  session={}  user={}  result={}{}",
                        cut.client,
                        cut.session_id.as_deref().unwrap_or("-"),
                        cut.user_name,
                        cut.result,
                        cut.error_cause
                            .map_or_else(String::new, |cause| format!(" error_cause={cause}"))
                    );
                }
                if cuts.is_empty() {
                    println!("no live session matched");
                }
            }
            if !cuts.is_empty() && cuts.iter().all(|cut| cut.ended) {
                0
            } else {
                1
            }
        }
        ControlAnswer::Refused { error } => {
            eprintln!("adgate refused: {error}");
            2
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_one_json_line() {
        let command = ControlCommand::Disconnect {
            user: Some("alice".into()),
            session: None,
            reason: Some("stolen laptop".into()),
        };
        let text = serde_json::to_string(&command).unwrap();
        assert_eq!(
            text,
            r#"{"command":"disconnect","user":"alice","reason":"stolen laptop"}"#
        );
        assert_eq!(
            serde_json::from_str::<ControlCommand>(&text).unwrap(),
            command
        );
        assert_eq!(
            serde_json::from_str::<ControlCommand>(r#"{"command":"list"}"#).unwrap(),
            ControlCommand::List
        );
    }

    #[test]
    fn root_and_our_own_user_are_allowed_others_only_through_the_group() {
        assert!(allowed(0, Some("root"), 0, None));
        let me = nix::unistd::geteuid().as_raw();
        assert!(allowed(me, None, 12345, None));
        let stranger = 54_321;
        assert!(!allowed(stranger, None, 54_321, None));
        assert!(!allowed(stranger, None, 54_321, Some(Gid::from_raw(999))));
        assert!(allowed(stranger, None, 999, Some(Gid::from_raw(999))));
    }
}
