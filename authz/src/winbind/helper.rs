//! One long-lived `ntlm_auth --helper-protocol=ntlm-server-1 --allow-mschapv2` process: it
//! takes one request at a time on stdin and answers on stdout (the protocol is in
//! `helper_protocol.rs`). The pool owns several and never shares one between two checks.
//!
//! The process is killed when its `NtlmAuthHelper` is dropped (`kill_on_drop`): a check that
//! times out, or a reply off the protocol, simply drops it, and the next check starts a new one.
//! Its stderr (Samba's own complaints, e.g. an unreadable smb.conf) goes to the log.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tracing::warn;

use super::helper_protocol::{parse_reply, HelperReply, ProtocolError, MAX_LINE, MAX_REPLY_LINES};
use super::WinbindSettings;

/// Why a helper could not give an answer; the helper is not used again.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HelperError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// Writing the request failed: the process had already gone (nothing reached winbind).
    #[error("ntlm_auth is gone ({0})")]
    Gone(String),
    #[error("reading from ntlm_auth: {0}")]
    Read(String),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

pub(crate) struct NtlmAuthHelper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl NtlmAuthHelper {
    /// Starts `settings.ntlm_auth` with the helper-protocol arguments.
    pub(crate) fn spawn(settings: &WinbindSettings) -> Result<NtlmAuthHelper, HelperError> {
        let (program, leading) =
            settings
                .ntlm_auth
                .split_first()
                .ok_or_else(|| HelperError::Spawn {
                    program: String::new(),
                    source: std::io::Error::other("no ntlm_auth command configured"),
                })?;
        let mut child = Command::new(program)
            .args(leading)
            .arg("--helper-protocol=ntlm-server-1")
            // Without it winbind sends the response as NTLMv1, which the DC refuses as a wrong
            // password — and counts towards the account's lockout.
            .arg("--allow-mschapv2")
            .arg(format!("--configfile={}", settings.smb_conf.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| HelperError::Spawn {
                program: program.clone(),
                source,
            })?;
        let (Some(stdin), Some(stdout), stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(HelperError::Gone("no pipes".into()));
        };
        if let Some(stderr) = stderr {
            tokio::spawn(log_stderr(stderr));
        }
        Ok(NtlmAuthHelper {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// Whether the process has exited (it then cannot take a request).
    pub(crate) fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `request` (the protocol's lines) and reads the reply.
    pub(crate) async fn exchange(&mut self, request: &str) -> Result<HelperReply, HelperError> {
        self.stdin
            .write_all(request.as_bytes())
            .await
            .map_err(|error| HelperError::Gone(error.to_string()))?;
        self.stdin
            .flush()
            .await
            .map_err(|error| HelperError::Gone(error.to_string()))?;
        let reply = parse_reply(&self.read_block().await?)?;
        if let HelperReply::Refused(_) = reply {
            // A refusal ends with a second `.` (see helper_protocol.rs).
            if !self.read_block().await?.is_empty() {
                return Err(ProtocolError::TrailingLine.into());
            }
        }
        Ok(reply)
    }

    /// The lines up to the next `.` line.
    async fn read_block(&mut self) -> Result<Vec<String>, HelperError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = (&mut self.stdout)
                .take(MAX_LINE)
                .read_line(&mut line)
                .await
                .map_err(|error| HelperError::Read(error.to_string()))?;
            if read == 0 {
                return Err(HelperError::Read("ntlm_auth exited".into()));
            }
            let Some(line) = line.strip_suffix('\n') else {
                return Err(HelperError::Read("a line too long".into()));
            };
            if line == "." {
                return Ok(lines);
            }
            if lines.len() == MAX_REPLY_LINES {
                return Err(HelperError::Read("a reply too long".into()));
            }
            lines.push(line.to_owned());
        }
    }
}

/// Logs what ntlm_auth says on stderr, one line per event, until it exits.
async fn log_stderr(stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if !line.is_empty() {
            warn!(ntlm_auth = line, "ntlm_auth says");
        }
    }
}
