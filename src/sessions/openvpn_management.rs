//! The disconnect driver for OpenVPN, which has no RFC 5176: its management interface
//! (`management IP PORT [pw-file]` in the server's config) takes `kill <common name>` and ends
//! that client's tunnel (OpenVPN's doc/management-notes.txt). With `username-as-common-name`
//! the common name is the login name the client sent, the User-Name adgate decided. The
//! answer is mapped onto what a Disconnect-Request would have got, so the session table, the
//! trail and the metrics treat both alike: `SUCCESS:` is an ACK, "not found" a NAK 503.

use std::net::SocketAddr;
use std::time::Duration;

use adgate_radius::{DisconnectOutcome, SharedSecret, SESSION_CONTEXT_NOT_FOUND};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The whole exchange, connect to answer, must end within this.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest line read from the interface; longer ones are an error, not a buffer to grow.
const MAX_LINE: usize = 4096;
/// What the interface sends, without a newline, when it has a password file.
const PASSWORD_PROMPT: &[u8] = b"ENTER PASSWORD:";

/// Why `kill` could not be asked or answered.
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("the user name cannot be a common name on the management interface: {0}")]
    UnsafeName(&'static str),
    #[error("the management interface did not answer within {EXCHANGE_TIMEOUT:?}")]
    Timeout,
    #[error("the management interface asks for a password and none is configured")]
    PasswordNeeded,
    #[error("the management interface refused the password")]
    PasswordRefused,
    #[error(
        "the management interface closed the connection or sent a line over {MAX_LINE} octets"
    )]
    Closed,
    #[error("talking to the management interface failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Asks the OpenVPN server at `address` to kill the client whose common name is `user_name`.
pub async fn kill(
    address: SocketAddr,
    password: Option<&SharedSecret>,
    user_name: &[u8],
) -> Result<DisconnectOutcome, ManagementError> {
    let command = kill_command(user_name)?;
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(address, password, &command))
        .await
        .map_err(|_| ManagementError::Timeout)?
}

/// `kill "<name>"`, quoted and escaped as the interface's parser expects (backslash escapes
/// inside double quotes), so a name cannot add a command. Control characters cannot be sent.
fn kill_command(user_name: &[u8]) -> Result<Vec<u8>, ManagementError> {
    let name =
        std::str::from_utf8(user_name).map_err(|_| ManagementError::UnsafeName("not UTF-8"))?;
    if name.is_empty() {
        return Err(ManagementError::UnsafeName("empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(ManagementError::UnsafeName("control characters"));
    }
    let mut command = b"kill \"".to_vec();
    for byte in name.bytes() {
        if matches!(byte, b'"' | b'\\') {
            command.push(b'\\');
        }
        command.push(byte);
    }
    command.extend_from_slice(b"\"\n");
    Ok(command)
}

async fn exchange(
    address: SocketAddr,
    password: Option<&SharedSecret>,
    command: &[u8],
) -> Result<DisconnectOutcome, ManagementError> {
    let mut connection = Lines::new(TcpStream::connect(address).await?);
    let first = connection.next().await?;
    if first.starts_with(PASSWORD_PROMPT) {
        let password = password.ok_or(ManagementError::PasswordNeeded)?;
        let mut line = password.expose().to_vec();
        line.push(b'\n');
        connection.stream.write_all(&line).await?;
        // "SUCCESS: password is correct", or "ERROR: bad password" and the prompt again.
        if !connection.answer().await?.starts_with(b"SUCCESS:") {
            return Err(ManagementError::PasswordRefused);
        }
    }
    connection.stream.write_all(command).await?;
    let answer = connection.answer().await?;
    // Best effort: the server closes the connection itself when we go.
    let _ = connection.stream.write_all(b"quit\n").await;
    Ok(outcome(&answer))
}

/// `SUCCESS: common name 'x' found, 1 client(s) killed` ends the session;
/// `ERROR: common name 'x' not found` means there was none (RFC 5176's 503).
fn outcome(answer: &[u8]) -> DisconnectOutcome {
    if answer.starts_with(b"SUCCESS:") {
        DisconnectOutcome::Ack { error_cause: None }
    } else if answer.ends_with(b"not found") {
        DisconnectOutcome::Nak {
            error_cause: Some(SESSION_CONTEXT_NOT_FOUND),
        }
    } else {
        DisconnectOutcome::Nak { error_cause: None }
    }
}

/// Lines from the interface, `\r\n`-terminated, and the password prompt, which is not.
struct Lines {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Lines {
    fn new(stream: TcpStream) -> Lines {
        Lines {
            stream,
            buffer: Vec::new(),
        }
    }

    /// The next line without its line end, or the password prompt.
    async fn next(&mut self) -> Result<Vec<u8>, ManagementError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buffer.starts_with(PASSWORD_PROMPT) {
                return Ok(std::mem::take(&mut self.buffer));
            }
            if self.buffer.len() > MAX_LINE {
                return Err(ManagementError::Closed);
            }
            let mut chunk = [0; 512];
            let read = self.stream.read(&mut chunk).await?;
            if read == 0 {
                return Err(ManagementError::Closed);
            }
            self.buffer
                .extend_from_slice(chunk.get(..read).unwrap_or_default());
        }
    }

    /// The next line that answers a command: real-time notifications (`>…`) are skipped.
    async fn answer(&mut self) -> Result<Vec<u8>, ManagementError> {
        loop {
            let line = self.next().await?;
            if !line.starts_with(b">") {
                return Ok(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A management interface that asks for `password` if any, and answers one `kill` with
    /// `answer`; it returns the command it got.
    async fn fake_interface(
        password: Option<&'static str>,
        answer: &'static str,
    ) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            if let Some(password) = password {
                write.write_all(b"ENTER PASSWORD:").await.unwrap();
                let given = lines.next_line().await.unwrap().unwrap();
                if given != password {
                    write.write_all(b"ERROR: bad password\r\n").await.unwrap();
                    return String::new();
                }
                write
                    .write_all(b"SUCCESS: password is correct\r\n")
                    .await
                    .unwrap();
            }
            write
                .write_all(b">INFO:OpenVPN Management Interface Version 5\r\n")
                .await
                .unwrap();
            let command = lines.next_line().await.unwrap().unwrap();
            write.write_all(b">CLIENT:DISCONNECT,0\r\n").await.unwrap();
            write
                .write_all(format!("{answer}\r\n").as_bytes())
                .await
                .unwrap();
            command
        });
        (address, task)
    }

    #[tokio::test]
    async fn a_killed_client_is_an_ack_and_an_unknown_one_a_nak_503() {
        let (address, task) = fake_interface(
            None,
            "SUCCESS: common name 'alice' found, 1 client(s) killed",
        )
        .await;
        let outcome = kill(address, None, b"alice").await.unwrap();
        assert_eq!(outcome, DisconnectOutcome::Ack { error_cause: None });
        assert_eq!(task.await.unwrap(), "kill \"alice\"");

        let (address, _) = fake_interface(None, "ERROR: common name 'bob' not found").await;
        let outcome = kill(address, None, b"bob").await.unwrap();
        assert!(outcome.session_ended(), "{outcome:?}");
        assert_eq!(
            outcome,
            DisconnectOutcome::Nak {
                error_cause: Some(SESSION_CONTEXT_NOT_FOUND)
            }
        );
    }

    #[tokio::test]
    async fn the_password_is_given_when_asked_and_its_absence_is_an_error() {
        let answer = "SUCCESS: common name 'alice' found, 1 client(s) killed";
        let (address, task) = fake_interface(Some("mgmt-pass"), answer).await;
        let password = SharedSecret::new(b"mgmt-pass".to_vec());
        let outcome = kill(address, Some(&password), b"alice").await.unwrap();
        assert!(outcome.session_ended());
        assert_eq!(task.await.unwrap(), "kill \"alice\"");

        let (address, _) = fake_interface(Some("mgmt-pass"), answer).await;
        let error = kill(address, None, b"alice").await.unwrap_err();
        assert!(matches!(error, ManagementError::PasswordNeeded), "{error}");

        let (address, _) = fake_interface(Some("mgmt-pass"), answer).await;
        let wrong = SharedSecret::new(b"guess".to_vec());
        let error = kill(address, Some(&wrong), b"alice").await.unwrap_err();
        assert!(matches!(error, ManagementError::PasswordRefused), "{error}");
    }

    #[test]
    fn a_name_cannot_add_a_command() {
        assert_eq!(
            kill_command(br#"CORP\al"ice"#).unwrap(),
            b"kill \"CORP\\\\al\\\"ice\"\n".to_vec()
        );
        assert!(kill_command(b"alice\nsignal SIGTERM").is_err());
        assert!(kill_command(b"").is_err());
        assert!(kill_command(&[0xff, 0xfe]).is_err());
    }
}
