//! The disconnect driver for ocserv (the OpenConnect server), which has no RFC 5176: its
//! control program `occtl` talks to the server over a local Unix socket (`occtl-socket-file`
//! in ocserv.conf, with `use-occtl = true`), and `occtl disconnect user NAME` ends every
//! session of that user (occtl(8)). ocserv knows a user by the name the client logged in with,
//! the User-Name adgate decided. adgate runs the program itself, without a shell, its
//! arguments as separate strings, within a time limit; an admin whose adgate is not on
//! ocserv's host names a wrapper as the program (docs/appliances.md). The answer is mapped onto
//! what a Disconnect-Request would have got, so the session table, the trail and the metrics
//! treat both alike: "was disconnected" is an ACK, "could not disconnect" (no session of that
//! name) a NAK 503.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use adgate_radius::{DisconnectOutcome, SESSION_CONTEXT_NOT_FOUND};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::Semaphore;

/// The program must have answered and exited within this; it is killed otherwise.
const RUN_TIMEOUT: Duration = Duration::from_secs(5);
/// Most read of each of its outputs; occtl's answer is one line.
const MAX_OUTPUT: u64 = 4096;
/// Most of its output quoted in an error.
const MAX_QUOTED: usize = 200;
/// occtl runs at once, so that a group emptied in AD starts a queue, not hundreds of processes
/// (ocserv's main process answers its control socket one command at a time).
const MAX_RUNNING: usize = 4;
static RUNNING: Semaphore = Semaphore::const_new(MAX_RUNNING);

/// Why `disconnect user` could not be asked or answered.
#[derive(Debug, thiserror::Error)]
pub enum OcctlError {
    #[error("the user name cannot be passed to occtl: {0}")]
    UnsafeName(&'static str),
    #[error("cannot run {program}: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error("occtl did not answer and exit within {RUN_TIMEOUT:?}; it was killed")]
    Timeout,
    #[error("reading occtl's answer failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("occtl ({status}) said: {said}")]
    Unexpected { status: ExitStatus, said: String },
}

/// Asks ocserv, through `program` on `socket` (occtl's default if `None`), to disconnect every
/// session of `user_name`.
pub async fn disconnect(
    program: &Path,
    socket: Option<&Path>,
    user_name: &[u8],
) -> Result<DisconnectOutcome, OcctlError> {
    let arguments = arguments(socket, user_name)?;
    // Never closed, so never an error; waiting for a turn is not part of the time limit.
    let _turn = RUNNING.acquire().await;
    run(program, &arguments, RUN_TIMEOUT).await
}

/// `[--socket-file SOCKET] disconnect user NAME`, the name one argument. occtl joins its
/// arguments with blanks into one command line, squeezes runs of blanks, trims the ends and
/// reads a lone `?` as a request for help (src/occtl/occtl.c, `merge_args`, `check_cmd`,
/// `need_help`): a name it would change is refused, as is one a wrapper could take for an
/// option (a leading `-`).
fn arguments(socket: Option<&Path>, user_name: &[u8]) -> Result<Vec<OsString>, OcctlError> {
    let name = std::str::from_utf8(user_name).map_err(|_| OcctlError::UnsafeName("not UTF-8"))?;
    if name.is_empty() || name == "?" {
        return Err(OcctlError::UnsafeName("occtl would print its help"));
    }
    if name.chars().any(char::is_control) {
        return Err(OcctlError::UnsafeName("control characters"));
    }
    if name.starts_with('-') {
        return Err(OcctlError::UnsafeName("it begins with '-'"));
    }
    if name.starts_with(' ') || name.ends_with(' ') || name.contains("  ") {
        return Err(OcctlError::UnsafeName(
            "occtl would squeeze or trim its blanks",
        ));
    }
    let mut arguments = Vec::new();
    if let Some(socket) = socket {
        arguments.extend([OsString::from("--socket-file"), socket.into()]);
    }
    arguments.extend(["disconnect", "user", name].map(OsString::from));
    Ok(arguments)
}

/// Runs `program` with `arguments` and reads its answer; past `limit` it is killed.
async fn run(
    program: &Path,
    arguments: &[OsString],
    limit: Duration,
) -> Result<DisconnectOutcome, OcctlError> {
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| OcctlError::Spawn {
            program: program.display().to_string(),
            error,
        })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let answer = async {
        let (stdout, stderr) = tokio::try_join!(read_bounded(stdout), read_bounded(stderr))?;
        let status = child.wait().await?;
        Ok::<_, OcctlError>((status, stdout, stderr))
    };
    // On timeout the child is dropped, and so killed (`kill_on_drop`) and reaped by tokio.
    let (status, stdout, stderr) = tokio::time::timeout(limit, answer)
        .await
        .map_err(|_| OcctlError::Timeout)??;
    outcome(status, &stdout, &stderr)
}

/// Up to `MAX_OUTPUT` octets of one of the child's outputs; the rest is not read (the child
/// gets EPIPE when the pipe is dropped).
async fn read_bounded(output: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut read = Vec::new();
    if let Some(output) = output {
        output.take(MAX_OUTPUT).read_to_end(&mut read).await?;
    }
    Ok(read)
}

/// occtl prints `user 'NAME' was disconnected` and exits 0 when ocserv ended at least one
/// session of that name, and `could not disconnect user 'NAME'` (exit 1) when it had none
/// (src/occtl/unix.c, `handle_disconnect_user_cmd`; ocserv's main-ctl-unix.c answers true
/// only if a session matched). Anything else — "error connecting to ocserv socket", a
/// wrapper's own failure — is no answer from ocserv.
fn outcome(
    status: ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<DisconnectOutcome, OcctlError> {
    let said = String::from_utf8_lossy(stdout);
    let said = said.trim();
    if status.success() && said.starts_with("user '") && said.ends_with("' was disconnected") {
        return Ok(DisconnectOutcome::Ack { error_cause: None });
    }
    if said.starts_with("could not disconnect user '") {
        return Ok(DisconnectOutcome::Nak {
            error_cause: Some(SESSION_CONTEXT_NOT_FOUND),
        });
    }
    let problem = String::from_utf8_lossy(stderr);
    let problem = [problem.trim(), said]
        .into_iter()
        .find(|text| !text.is_empty())
        .unwrap_or("nothing");
    Err(OcctlError::Unexpected {
        status,
        said: problem
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX_QUOTED)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;

    /// A stand-in for occtl: a script that writes its arguments, one a line, to `args` in its
    /// directory, then runs `body` (`$last` is its last argument).
    fn fake_occtl(dir: &Path, body: &str) -> PathBuf {
        let program = dir.join("occtl");
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\nfor last; do printf '%s\\n' \"$last\"; done > {}\n{body}\n",
                dir.join("args").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        program
    }

    fn arguments_given(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("args"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[tokio::test]
    async fn a_disconnected_user_is_an_ack_and_an_unknown_one_a_nak_503() {
        let dir = tempfile::tempdir().unwrap();
        let program = fake_occtl(dir.path(), "echo \"user '$last' was disconnected\"");
        let socket = Path::new("/run/ocserv/occtl.socket");
        let outcome = disconnect(&program, Some(socket), b"Jane Doe")
            .await
            .unwrap();
        assert_eq!(outcome, DisconnectOutcome::Ack { error_cause: None });
        assert_eq!(
            arguments_given(dir.path()),
            [
                "--socket-file",
                "/run/ocserv/occtl.socket",
                "disconnect",
                "user",
                "Jane Doe"
            ]
        );

        let program = fake_occtl(
            dir.path(),
            "echo \"could not disconnect user '$last'\"; exit 1",
        );
        let outcome = disconnect(&program, None, b"bob").await.unwrap();
        assert!(outcome.session_ended(), "{outcome:?}");
        assert_eq!(
            outcome,
            DisconnectOutcome::Nak {
                error_cause: Some(SESSION_CONTEXT_NOT_FOUND)
            }
        );
        assert_eq!(arguments_given(dir.path()), ["disconnect", "user", "bob"]);
    }

    #[tokio::test]
    async fn no_answer_from_ocserv_is_an_error_with_what_occtl_said() {
        let dir = tempfile::tempdir().unwrap();
        let program = fake_occtl(
            dir.path(),
            "echo \"error connecting to ocserv socket '$2': No such file or directory\" >&2; \
             exit 1",
        );
        let error = disconnect(&program, Some(Path::new("/nowhere")), b"alice")
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("error connecting to ocserv socket '/nowhere'"),
            "{error}"
        );

        // A wrapper that succeeds without occtl's answer has not disconnected anyone.
        let program = fake_occtl(dir.path(), "exit 0");
        let error = disconnect(&program, None, b"alice").await.unwrap_err();
        assert!(matches!(error, OcctlError::Unexpected { .. }), "{error}");

        let error = disconnect(&dir.path().join("absent"), None, b"alice")
            .await
            .unwrap_err();
        assert!(matches!(error, OcctlError::Spawn { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_program_that_hangs_is_killed_at_the_time_limit() {
        let dir = tempfile::tempdir().unwrap();
        let program = fake_occtl(
            dir.path(),
            "echo $$ > \"$(dirname \"$0\")/pid\"; exec sleep 30",
        );
        let arguments = arguments(None, b"alice").unwrap();
        let started = std::time::Instant::now();
        let error = run(&program, &arguments, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(error, OcctlError::Timeout), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        // Killed: gone, or a zombie until tokio reaps it.
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .map_or(true, |stat| stat.contains(") Z "))
        });
        assert!(gone, "the hung program {} still runs", pid.trim());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_max_running_run_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let program = fake_occtl(
            dir.path(),
            "cd \"$(dirname \"$0\")\"; touch running.$$; ls | grep -c '^running' >> seen\n\
             sleep 0.3; rm running.$$; echo \"user '$last' was disconnected\"",
        );
        let cuts: Vec<_> = (0..2 * MAX_RUNNING)
            .map(|_| {
                let program = program.clone();
                tokio::spawn(async move { disconnect(&program, None, b"alice").await })
            })
            .collect();
        for cut in cuts {
            assert!(cut.await.unwrap().unwrap().session_ended());
        }
        let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
        let most = seen.lines().map(|n| n.parse::<usize>().unwrap()).max();
        assert!(most.is_some_and(|most| most <= MAX_RUNNING), "{seen}");
    }

    #[test]
    fn names_occtl_would_change_or_a_wrapper_could_misread_are_refused() {
        for name in [
            &b""[..],
            b"?",
            b"-s",
            b"--socket-file=/tmp/x",
            b"alice\nbob",
            b"alice\tbob",
            b" alice",
            b"alice ",
            b"jane  doe",
            &[0xff, 0xfe],
        ] {
            let refused = arguments(None, name);
            assert!(
                matches!(refused, Err(OcctlError::UnsafeName(_))),
                "{:?}: {refused:?}",
                String::from_utf8_lossy(name)
            );
        }
        assert_eq!(
            arguments(None, b"CORP\\alice").unwrap(),
            ["disconnect", "user", "CORP\\alice"]
        );
        assert_eq!(
            arguments(None, b"alice@corp.example.test").unwrap().last(),
            Some(&OsString::from("alice@corp.example.test"))
        );
    }
}
