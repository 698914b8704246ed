//! What a disconnect ends with: the NAS's verified answer, its silence, or
//! the reason nothing could be sent. The binary acts on these (close the
//! session record, alert, retry later), so they say exactly what happened
//! and nothing more.

use std::io;

use crate::dictionary::SESSION_CONTEXT_NOT_FOUND;

/// How the NAS answered a Disconnect-Request (RFC 5176 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectOutcome {
    /// Disconnect-ACK: the NAS ended the session. `error_cause` is a 2xx
    /// Error-Cause if the NAS gave one (RFC 5176 §3.5), such as 201
    /// Residual Session Context Removed.
    Ack { error_cause: Option<u32> },
    /// Disconnect-NAK: the NAS did not end a session. 503 Session Context
    /// Not Found means "already gone" (see
    /// [`DisconnectOutcome::session_ended`]); strongSwan sends no
    /// Error-Cause at all when no session matches.
    Nak { error_cause: Option<u32> },
    /// No verified answer to any of `attempts` transmissions of the request.
    NoAnswer { attempts: u32 },
}

impl DisconnectOutcome {
    /// Whether the session is known to be over: a Disconnect-ACK, or a NAK
    /// with Error-Cause 503 Session Context Not Found (RFC 5176 §3.5), which
    /// a NAS sends when no such session exists (any more).
    pub fn session_ended(&self) -> bool {
        matches!(
            self,
            Self::Ack { .. }
                | Self::Nak {
                    error_cause: Some(SESSION_CONTEXT_NOT_FOUND)
                }
        )
    }
}

/// Why no Disconnect-Request was sent, or its exchange was cut short.
#[derive(Debug, thiserror::Error)]
pub enum DisconnectError {
    /// A value RFC 2865 §5 cannot carry: attribute values are 1 to 253
    /// octets, and truncating one would identify another session.
    #[error("{attribute} of {length} octets cannot be sent: RFC 2865 §5 allows 1 to 253")]
    InvalidAttribute {
        attribute: &'static str,
        length: usize,
    },
    /// The profile matches sessions on an attribute this session lacks.
    #[error("the {profile} profile needs {attribute}, which is not known for this session")]
    MissingAttribute {
        profile: &'static str,
        attribute: &'static str,
    },
    /// The system clock is outside what Event-Timestamp can carry (seconds
    /// since 1970 in 32 bits, RFC 2869 §5.3).
    #[error("the system clock is outside the range of Event-Timestamp (1970 to 2106)")]
    ClockOutOfRange,
    /// The first transmission could not be sent.
    #[error("cannot send the Disconnect-Request: {0}")]
    Send(#[source] io::Error),
    /// The sender was shut down while the request was waiting.
    #[error("the Disconnect-Request sender was shut down")]
    ShutDown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_ack_or_a_nak_503_means_the_session_ended() {
        let ended = [
            DisconnectOutcome::Ack { error_cause: None },
            DisconnectOutcome::Ack {
                error_cause: Some(201),
            },
            DisconnectOutcome::Nak {
                error_cause: Some(503),
            },
        ];
        let not_ended = [
            DisconnectOutcome::Nak { error_cause: None },
            DisconnectOutcome::Nak {
                error_cause: Some(504),
            },
            DisconnectOutcome::NoAnswer { attempts: 3 },
        ];
        assert!(ended.iter().all(DisconnectOutcome::session_ended));
        assert!(!not_ended.iter().any(DisconnectOutcome::session_ended));
    }
}
