//! The text protocol of `ntlm_auth --helper-protocol=ntlm-server-1`: one request in, one reply
//! out, as `Key: value` lines ended by a line holding a single `.` (Samba's
//! `source3/utils/ntlm_auth.c`, `manage_ntlm_server_1_request`).
//!
//! Kept apart from the process handling so that every quirk is a unit test:
//! - A refusal ends with **two** dot lines (`Authenticated: No`, `Authentication-Error: …`,
//!   `.`, `.`): ntlm_auth prints the first after the error and the second when it clears its
//!   state. Reading only one would pair every later request with the previous one's reply.
//! - An `Error: …` line means ntlm_auth did not take a line of the request and kept the rest of
//!   its state (it answers `.` early): the conversation is out of step and the process must go.
//! - `User-Session-Key` is printed only when asked for and not all zeros.

use std::fmt;

use zeroize::Zeroizing;

/// The longest line read from ntlm_auth; its real lines are under 200 octets.
pub(crate) const MAX_LINE: u64 = 4096;
/// The most lines one reply may have before the helper is deemed broken.
pub(crate) const MAX_REPLY_LINES: usize = 16;

/// One check, as ntlm_auth takes it. The challenge and response go as hex; names are checked
/// for line breaks by the caller ([`request_lines`] refuses them).
pub(crate) struct HelperRequest<'a> {
    pub(crate) account: &'a str,
    pub(crate) domain: &'a str,
    pub(crate) challenge: &'a [u8; 8],
    pub(crate) nt_response: &'a [u8; 24],
}

/// A name that cannot be put on one protocol line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnsendableName;

/// The request's lines, the final `.` included. Zeroized on drop: they hold the NT-Response.
pub(crate) fn request_lines(
    request: &HelperRequest<'_>,
) -> Result<Zeroizing<String>, UnsendableName> {
    for name in [request.account, request.domain] {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(UnsendableName);
        }
    }
    let mut text = Zeroizing::new(String::with_capacity(200));
    text.push_str("Username: ");
    text.push_str(request.account);
    text.push_str("\nNT-Domain: ");
    text.push_str(request.domain);
    text.push_str("\nLANMAN-Challenge: ");
    text.push_str(&hex::encode(request.challenge));
    text.push_str("\nNT-Response: ");
    text.push_str(&hex::encode(request.nt_response));
    text.push_str("\nRequest-User-Session-Key: Yes\n.\n");
    Ok(text)
}

/// What ntlm_auth answered (the lines before the first `.`).
#[derive(PartialEq, Eq)]
pub(crate) enum HelperReply {
    /// `Authenticated: Yes` with the 16-octet User-Session-Key (for MS-CHAPv2, the hash of the
    /// NT password hash).
    Authenticated(Zeroizing<[u8; 16]>),
    /// `Authenticated: No` and winbind's `Authentication-Error` text. A second `.` follows.
    Refused(String),
}

impl fmt::Debug for HelperReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelperReply::Authenticated(_) => f.write_str("Authenticated(<key>)"),
            HelperReply::Refused(error) => f.debug_tuple("Refused").field(error).finish(),
        }
    }
}

/// A reply that does not follow the protocol: the helper must be replaced.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProtocolError {
    #[error("ntlm_auth refused the request: {0}")]
    HelperError(String),
    #[error("ntlm_auth's reply has no Authenticated line")]
    NoVerdict,
    #[error("ntlm_auth accepted without a 16-octet User-Session-Key")]
    NoSessionKey,
    #[error("ntlm_auth refused without an Authentication-Error")]
    NoError,
    #[error("ntlm_auth sent an unexpected line after its reply")]
    TrailingLine,
}

/// Reads a reply from its lines (without the ending `.`; each without its line break).
pub(crate) fn parse_reply<S: AsRef<str>>(lines: &[S]) -> Result<HelperReply, ProtocolError> {
    let mut authenticated = None;
    let mut key = None;
    let mut error = None;
    for line in lines {
        let line = line.as_ref();
        let Some((name, value)) = line.split_once(": ") else {
            continue;
        };
        match name {
            "Error" => return Err(ProtocolError::HelperError(value.to_owned())),
            "Authenticated" => authenticated = Some(value == "Yes"),
            "User-Session-Key" => key = session_key(value),
            "Authentication-Error" => error = Some(value.to_owned()),
            _ => {}
        }
    }
    match authenticated {
        None => Err(ProtocolError::NoVerdict),
        Some(true) => key
            .map(HelperReply::Authenticated)
            .ok_or(ProtocolError::NoSessionKey),
        Some(false) => error
            .map(HelperReply::Refused)
            .ok_or(ProtocolError::NoError),
    }
}

fn session_key(hex_digits: &str) -> Option<Zeroizing<[u8; 16]>> {
    let mut key = Zeroizing::new([0u8; 16]);
    hex::decode_to_slice(hex_digits.trim(), &mut *key).ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: [u8; 8] = [0xd0, 0x2e, 0x43, 0x86, 0xbc, 0xe9, 0x12, 0x26];

    fn request<'a>(account: &'a str, domain: &'a str) -> HelperRequest<'a> {
        HelperRequest {
            account,
            domain,
            challenge: &CHALLENGE,
            nt_response: &[0xab; 24],
        }
    }

    #[test]
    fn a_request_is_the_lines_ntlm_auth_expects_and_asks_for_the_key() {
        let text = request_lines(&request("alice", "CORP")).unwrap();
        assert_eq!(
            text.as_str(),
            format!(
                "Username: alice\nNT-Domain: CORP\nLANMAN-Challenge: d02e4386bce91226\n\
                 NT-Response: {}\nRequest-User-Session-Key: Yes\n.\n",
                "ab".repeat(24)
            )
        );
    }

    #[test]
    fn names_that_would_break_a_line_are_not_sent() {
        for (account, domain) in [
            ("alice\n.\nUsername: bob", "CORP"),
            ("alice", "CORP\r"),
            ("", "CORP"),
            ("alice", ""),
            ("al\u{0}ice", "CORP"),
        ] {
            assert_eq!(
                request_lines(&request(account, domain)).map(|_| ()),
                Err(UnsendableName),
                "{account:?} {domain:?}"
            );
        }
        assert!(request_lines(&request("jürgen", "CORP")).is_ok());
    }

    #[test]
    fn an_accept_carries_the_user_session_key() {
        let reply = parse_reply(&[
            "Authenticated: Yes",
            "User-Session-Key: 41C00C584BD2D91C4017A2A12FA59F3F",
        ])
        .unwrap();
        let expected: [u8; 16] = [
            0x41, 0xc0, 0x0c, 0x58, 0x4b, 0xd2, 0xd9, 0x1c, 0x40, 0x17, 0xa2, 0xa1, 0x2f, 0xa5,
            0x9f, 0x3f,
        ];
        assert_eq!(reply, HelperReply::Authenticated(Zeroizing::new(expected)));
        assert_eq!(
            format!("{reply:?}"),
            "Authenticated(<key>)",
            "no key in logs"
        );
    }

    #[test]
    fn a_refusal_carries_winbinds_text() {
        let text = "The specified account does not exist.";
        assert_eq!(
            parse_reply(&[
                "Authenticated: No",
                &format!("Authentication-Error: {text}")
            ]),
            Ok(HelperReply::Refused(text.to_owned()))
        );
    }

    #[test]
    fn replies_off_the_protocol_are_errors() {
        let cases: [(&[&str], ProtocolError); 6] = [
            (&[], ProtocolError::NoVerdict),
            (
                &["Error: Parameter not found!"],
                ProtocolError::HelperError("Parameter not found!".into()),
            ),
            (&["Authenticated: Yes"], ProtocolError::NoSessionKey),
            (
                &["Authenticated: Yes", "User-Session-Key: 41C00C"],
                ProtocolError::NoSessionKey,
            ),
            (&["Authenticated: No"], ProtocolError::NoError),
            (
                // An error line anywhere wins: ntlm_auth's state is out of step.
                &[
                    "Error: Could not parse into domain and username",
                    "Authenticated: Yes",
                    "User-Session-Key: 41C00C584BD2D91C4017A2A12FA59F3F",
                ],
                ProtocolError::HelperError("Could not parse into domain and username".into()),
            ),
        ];
        for (lines, expected) in cases {
            assert_eq!(parse_reply(lines), Err(expected), "{lines:?}");
        }
    }
}
