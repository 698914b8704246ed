//! One EAP-TLS conversation on the server side: rustls' buffered `ServerConnection` driven
//! over memory (`read_tls` / `write_tls`), its TLS records carried in EAP-TLS fragments.
//!
//! The conversation, as RFC 5216 §2.1 (TLS 1.2) and RFC 9190 §2.1 (TLS 1.3) lay it out:
//!
//! 1. server: Start; peer: ClientHello
//! 2. server: its flight (ServerHello … ServerHelloDone, or … Finished in TLS 1.3);
//!    peer: Certificate, CertificateVerify, Finished (TLS 1.2 also ClientKeyExchange, CCS)
//! 3. server: TLS 1.2 ChangeCipherSpec + Finished, or in TLS 1.3 the one-octet 0x00
//!    application-data record that commits to no further handshake messages (RFC 9190 §2.5)
//! 4. peer: an empty EAP-TLS response; then the caller may send EAP-Success.
//!
//! When rustls refuses the peer's flight (an untrusted, expired, revoked or wrong-purpose
//! certificate, a bad message), it writes a fatal TLS alert. RFC 5216 §2.1.3 (and RFC 9190
//! §2.1.4 for TLS 1.3) has the server send that alert in an EAP-Request/EAP-TLS, so the peer
//! learns why; the peer answers with an empty EAP-TLS response, and only then does the
//! conversation fail (the caller sends EAP-Failure).
//!
//! Flights larger than the fragment size go out in fragments, each acknowledged by the peer;
//! the peer's fragments are acknowledged by us. Whatever the peer sends, memory stays within
//! one reassembled flight ([`MAX_TLS_MESSAGE`](crate::eap_tls_fragments::MAX_TLS_MESSAGE))
//! plus rustls' own bounded buffers, and nothing here panics.

use std::io::Write;
use std::sync::Arc;

use rustls::{ProtocolVersion, ServerConfig, ServerConnection};
use tracing::{debug, info};

use crate::certificate_summary::CertificateSummary;
use crate::eap_tls_fragments::{ack, start, Fragment, Inbound, Outbound};
use crate::identity::{identity_of, IdentityClaim, IdentityPolicy};
use crate::rejection::Rejection;
use crate::session_keys::MasterSessionKey;

/// What to do after a peer message.
#[derive(Debug)]
pub enum Step {
    /// Send an EAP-Request/EAP-TLS with this Type-Data.
    Continue(Vec<u8>),
    /// The handshake finished and the peer acknowledged it.
    Established(Box<Established>),
    /// The conversation failed; send EAP-Failure.
    Failed(Rejection),
}

/// A finished EAP-TLS handshake.
#[derive(Debug)]
pub struct Established {
    /// Who the certificate names, or why it names nobody.
    pub identity: Result<IdentityClaim, Rejection>,
    pub certificate: CertificateSummary,
    /// `TLSv1.2` or `TLSv1.3`.
    pub tls_version: &'static str,
    /// The IANA name of the negotiated suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    pub msk: MasterSessionKey,
}

/// Where the conversation stands.
#[derive(Debug)]
enum State {
    /// Waiting for (the next fragment of) the peer's flight.
    Receiving(Inbound),
    /// Sending our flight; the peer acknowledges each fragment.
    Sending {
        outbound: Outbound,
        then: AfterFlight,
    },
    /// Our last flight is out after the handshake ended; the peer's empty response ends it.
    AwaitingFinalAck,
    /// Our TLS alert is out; the peer's response, whatever it is, ends the conversation with
    /// this reason.
    AwaitingAlertAck(Rejection),
    /// Established or failed: nothing more is accepted.
    Over,
}

/// What our flight leads to once its last fragment is out.
#[derive(Debug, Clone, Copy)]
enum AfterFlight {
    /// The handshake goes on: the peer's next flight.
    PeerFlight,
    /// The handshake is over: the peer's final empty response.
    FinalAck,
    /// The flight is rustls' alert refusing the peer: failure after the peer's response.
    Failure(Rejection),
}

/// The server side of one EAP-TLS conversation.
pub struct EapTlsSession {
    connection: ServerConnection,
    state: State,
    fragment_size: usize,
    identity_policy: IdentityPolicy,
}

impl EapTlsSession {
    /// A new conversation and the Type-Data of its EAP-TLS Start. `fragment_size` is the TLS
    /// data per EAP-TLS fragment.
    pub fn start(
        config: Arc<ServerConfig>,
        fragment_size: usize,
        identity_policy: IdentityPolicy,
    ) -> Result<(Self, Vec<u8>), Rejection> {
        let connection =
            ServerConnection::new(config).map_err(|_| Rejection::TlsHandshakeFailed)?;
        let session = Self {
            connection,
            state: State::Receiving(Inbound::default()),
            fragment_size,
            identity_policy,
        };
        Ok((session, start()))
    }

    /// Why TLS refused the peer, once its alert is being sent: whatever the peer answers from
    /// then on, the conversation fails for this reason.
    pub fn refusal(&self) -> Option<Rejection> {
        match self.state {
            State::Sending {
                then: AfterFlight::Failure(rejection),
                ..
            }
            | State::AwaitingAlertAck(rejection) => Some(rejection),
            _ => None,
        }
    }

    /// Handles the Type-Data of the peer's EAP-TLS Response.
    pub fn advance(&mut self, type_data: &[u8]) -> Step {
        let step = self.advance_state(type_data);
        if !matches!(step, Step::Continue(_)) {
            self.state = State::Over;
        }
        step
    }

    fn advance_state(&mut self, type_data: &[u8]) -> Step {
        let fragment = match Fragment::parse(type_data) {
            Ok(fragment) if !fragment.start => fragment,
            Ok(_) | Err(_) => return Step::Failed(Rejection::EapTlsMalformed),
        };
        match std::mem::replace(&mut self.state, State::Over) {
            State::Receiving(mut inbound) => match inbound.add(&fragment) {
                Ok(None) => {
                    self.state = State::Receiving(inbound);
                    Step::Continue(ack())
                }
                Ok(Some(flight)) => self.receive_flight(&flight),
                Err(problem) => {
                    debug!(?problem, "EAP-TLS framing refused");
                    Step::Failed(Rejection::EapTlsMalformed)
                }
            },
            State::Sending {
                then: AfterFlight::Failure(rejection),
                ..
            } if !fragment.is_ack() => Step::Failed(rejection),
            State::Sending { outbound, then } if fragment.is_ack() => self.send(outbound, then),
            State::AwaitingFinalAck if fragment.is_ack() => self.established(),
            // The peer's response to our alert: an acknowledgement as RFC 5216 §2.1.3 asks, or
            // anything else; the reason is the one the alert stood for.
            State::AwaitingAlertAck(rejection) => Step::Failed(rejection),
            // Data where an acknowledgement belongs: usually a TLS alert from a peer that
            // refused our certificate. Read it for the log; the answer is Failure either way.
            State::Sending { .. } | State::AwaitingFinalAck => {
                let alert = self.read(fragment.data).err();
                debug!(?alert, "peer sent data instead of an acknowledgement");
                Step::Failed(Rejection::TlsHandshakeFailed)
            }
            State::Over => Step::Failed(Rejection::EapTlsMalformed),
        }
    }

    /// Feeds a whole peer flight to rustls and sends what it answers: the next flight, or the
    /// alert refusing the peer.
    fn receive_flight(&mut self, flight: &[u8]) -> Step {
        if let Err(error) = self.read(flight) {
            let rejection = Rejection::from_tls(&error);
            info!(%error, reason = rejection.as_str(), "TLS handshake failed");
            return match self.take_output() {
                Some(alert) => self.send(
                    Outbound::new(alert, self.fragment_size),
                    AfterFlight::Failure(rejection),
                ),
                // Nothing to tell the peer (the data never reached TLS): fail at once.
                None => Step::Failed(rejection),
            };
        }
        let handshake_done = !self.connection.is_handshaking();
        if handshake_done && self.connection.protocol_version() == Some(ProtocolVersion::TLSv1_3) {
            // RFC 9190 §2.5: the commitment message, one octet 0x00 of application data.
            if self.connection.writer().write_all(&[0]).is_err() {
                return Step::Failed(Rejection::TlsHandshakeFailed);
            }
        }
        let Some(output) = self.take_output() else {
            // A complete flight that rustls has no answer to: the peer split a flight
            // across EAP messages without M, or sent nothing useful.
            return Step::Failed(Rejection::TlsHandshakeFailed);
        };
        let then = if handshake_done {
            AfterFlight::FinalAck
        } else {
            AfterFlight::PeerFlight
        };
        self.send(Outbound::new(output, self.fragment_size), then)
    }

    /// The TLS records rustls has queued for the peer, if any.
    fn take_output(&mut self) -> Option<Vec<u8>> {
        let mut output = Vec::new();
        while self.connection.wants_write() {
            self.connection.write_tls(&mut output).ok()?;
        }
        (!output.is_empty()).then_some(output)
    }

    fn read(&mut self, mut data: &[u8]) -> Result<(), rustls::Error> {
        while !data.is_empty() {
            match self.connection.read_tls(&mut data) {
                Ok(0) | Err(_) => return Err(rustls::Error::General("TLS data refused".into())),
                Ok(_) => {}
            }
            self.connection.process_new_packets()?;
        }
        Ok(())
    }

    fn send(&mut self, mut outbound: Outbound, then: AfterFlight) -> Step {
        let fragment = outbound.next_fragment();
        self.state = match (outbound.is_done(), then) {
            (false, _) => State::Sending { outbound, then },
            (true, AfterFlight::PeerFlight) => State::Receiving(Inbound::default()),
            (true, AfterFlight::FinalAck) => State::AwaitingFinalAck,
            (true, AfterFlight::Failure(rejection)) => State::AwaitingAlertAck(rejection),
        };
        Step::Continue(fragment)
    }

    fn established(&mut self) -> Step {
        let connection = &self.connection;
        let Some(certificate) = connection
            .peer_certificates()
            .and_then(|chain| chain.first())
        else {
            return Step::Failed(Rejection::NoClientCertificate);
        };
        let msk = match MasterSessionKey::export(connection) {
            Ok(msk) => msk,
            Err(rejection) => return Step::Failed(rejection),
        };
        let tls_version = match connection.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            _ => "TLSv1.2",
        };
        let cipher_suite = connection
            .negotiated_cipher_suite()
            .and_then(|suite| suite.suite().as_str())
            .unwrap_or("unknown")
            .to_owned();
        Step::Established(Box::new(Established {
            identity: identity_of(certificate, self.identity_policy),
            certificate: CertificateSummary::of(certificate),
            tls_version,
            cipher_suite,
            msk,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rustls::{AlertDescription, SupportedProtocolVersion};

    use super::*;
    use crate::eap_tls_peer::{peer_config, EapTlsPeer};
    use crate::identity::IdentitySource;
    use crate::test_pki::{TestCa, UserCertificate};
    use crate::tls_server::{MutualTlsSettings, TlsServer};

    const SERVER_NAME: &str = "radius.corp.example.test";

    /// A server trusting `ca` for users (with a CRL revoking serial 66), and files for peers.
    struct Setup {
        dir: tempfile::TempDir,
        ca: TestCa,
        server: TlsServer,
    }

    impl Setup {
        fn new() -> Setup {
            let dir = tempfile::tempdir().unwrap();
            let ca = TestCa::new();
            let server_certificate = ca.issue_server(SERVER_NAME);
            let write = |name: &str, text: String| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).unwrap();
                path
            };
            let settings = MutualTlsSettings {
                certificate_file: write("server.pem", server_certificate.certificate_pem()),
                private_key_file: write("server.key", server_certificate.key_pem()),
                ca_file: write("ca.pem", ca.pem()),
                crl_files: vec![write("ca.crl", ca.crl_pem(&[66]))],
                require_extended_master_secret: true,
            };
            let server = TlsServer::new(settings, "certificate logins").unwrap();
            Setup { dir, ca, server }
        }

        /// Runs a whole conversation for a certificate `issuer` issued as `user`.
        fn login(
            &self,
            issuer: &TestCa,
            user: &UserCertificate,
            version: &'static SupportedProtocolVersion,
            fragment_size: usize,
        ) -> (Step, EapTlsPeer) {
            let issued = issuer.issue(user);
            let path = |name: &str| -> PathBuf { self.dir.path().join(name) };
            std::fs::write(path("user.pem"), issued.certificate_pem()).unwrap();
            std::fs::write(path("user.key"), issued.key_pem()).unwrap();
            let config = peer_config(
                &path("ca.pem"),
                &path("user.pem"),
                &path("user.key"),
                version,
            )
            .unwrap();
            let mut peer = EapTlsPeer::new(config, SERVER_NAME).unwrap();
            let (mut session, mut request) = EapTlsSession::start(
                self.server.config().unwrap(),
                fragment_size,
                IdentityPolicy::default(),
            )
            .unwrap();
            for _ in 0..200 {
                let Ok(response) = peer.respond(&request) else {
                    return (Step::Failed(Rejection::TlsHandshakeFailed), peer);
                };
                match session.advance(&response) {
                    Step::Continue(next) => request = next,
                    other => return (other, peer),
                }
            }
            panic!("conversation did not end");
        }
    }

    fn alice() -> UserCertificate {
        UserCertificate::named("Alice").upn("alice@corp.example.test")
    }

    #[test]
    fn tls12_and_tls13_establish_the_same_msk_on_both_sides() {
        let setup = Setup::new();
        for (version, name) in [
            (&rustls::version::TLS12, "TLSv1.2"),
            (&rustls::version::TLS13, "TLSv1.3"),
        ] {
            // A small fragment size forces fragmentation and acknowledgements both ways.
            for fragment_size in [100, 1000] {
                let (step, peer) = setup.login(&setup.ca, &alice(), version, fragment_size);
                let Step::Established(established) = step else {
                    panic!("{name}: {step:?}");
                };
                assert_eq!(established.tls_version, name);
                assert!(peer.msk().unwrap().matches(&established.msk), "{name}");
                assert_eq!(peer.alert_received(), None);
                assert_eq!(
                    established.identity,
                    Ok(IdentityClaim {
                        value: "alice@corp.example.test".into(),
                        source: IdentitySource::SanUpn
                    })
                );
                assert_eq!(established.certificate.subject, "CN=Alice");
            }
        }
    }

    #[test]
    fn certificates_that_fail_the_checks_are_refused_with_their_reason_and_alert() {
        let setup = Setup::new();
        let stranger = TestCa::named("someone else's CA");
        let cases = [
            (
                &stranger,
                alice(),
                Rejection::CertificateUntrusted,
                AlertDescription::UnknownCA,
            ),
            (
                &setup.ca,
                alice().expired(),
                Rejection::CertificateExpired,
                AlertDescription::CertificateExpired,
            ),
            (
                &setup.ca,
                alice().serial(66),
                Rejection::CertificateRevoked,
                AlertDescription::CertificateRevoked,
            ),
            (
                &setup.ca,
                alice().server_auth_only(),
                Rejection::CertificateWrongPurpose,
                AlertDescription::UnsupportedCertificate,
            ),
            (
                &setup.ca,
                alice().no_extended_key_usage(),
                Rejection::CertificateWrongPurpose,
                AlertDescription::UnsupportedCertificate,
            ),
        ];
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            for (issuer, user, expected, alert) in &cases {
                let (step, peer) = setup.login(issuer, user, version, 1000);
                assert!(
                    matches!(step, Step::Failed(rejection) if rejection == *expected),
                    "{user:?} {version:?}: {step:?}"
                );
                assert_eq!(peer.alert_received(), Some(*alert), "{user:?} {version:?}");
            }
        }
    }

    #[test]
    fn a_certificate_without_identity_still_completes_tls_but_names_nobody() {
        let setup = Setup::new();
        let user = UserCertificate::named("alice@corp.example.test").organization("Corp");
        let (step, _) = setup.login(&setup.ca, &user, &rustls::version::TLS13, 1000);
        let Step::Established(established) = step else {
            panic!("{step:?}");
        };
        assert_eq!(established.identity, Err(Rejection::NoCertificateIdentity));
    }

    #[test]
    fn garbage_from_the_peer_fails_without_panicking() {
        let setup = Setup::new();
        let garbage: [&[u8]; 7] = [
            &[],
            &[0x20],
            &[0x80, 0],
            &[0x00, 0x16, 0x03, 0x01, 0x00, 0x01, 0xff],
            &[0xc0, 0xff, 0xff, 0xff, 0xff],
            &[0x00, 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
            &[0x00; 3],
        ];
        for data in garbage {
            let (mut session, _) = EapTlsSession::start(
                setup.server.config().unwrap(),
                1000,
                IdentityPolicy::default(),
            )
            .unwrap();
            let step = match session.advance(data) {
                // TLS records rustls refuses get its alert first (flags L, length, then a
                // record of content type 21), and the peer's response ends the conversation.
                Step::Continue(alert) => {
                    assert_eq!(alert.get(5), Some(&21), "{data:?}: {alert:?}");
                    session.advance(&[0])
                }
                other => other,
            };
            assert!(matches!(step, Step::Failed(_)), "{data:?}: {step:?}");
            assert!(matches!(session.advance(&[0]), Step::Failed(_)));
        }
    }

    #[test]
    fn a_replaced_crl_applies_to_the_next_conversation() {
        let setup = Setup::new();
        let (step, _) = setup.login(&setup.ca, &alice().serial(7), &rustls::version::TLS13, 1000);
        assert!(matches!(step, Step::Established(_)));
        // A longer file, so the change shows even within the file system's time resolution.
        std::fs::write(
            setup.dir.path().join("ca.crl"),
            setup.ca.crl_pem(&[66, 7, 1000]),
        )
        .unwrap();
        // Until the watcher has refreshed the server, conversations start as before.
        let (step, _) = setup.login(&setup.ca, &alice().serial(7), &rustls::version::TLS13, 1000);
        assert!(matches!(step, Step::Established(_)));
        setup.server.refresh();
        let (step, _) = setup.login(&setup.ca, &alice().serial(7), &rustls::version::TLS13, 1000);
        assert!(
            matches!(step, Step::Failed(Rejection::CertificateRevoked)),
            "{step:?}"
        );
        std::fs::write(setup.dir.path().join("ca.crl"), "not a CRL").unwrap();
        setup.server.refresh();
        assert_eq!(
            setup.server.config().err(),
            Some(Rejection::RevocationUnknown)
        );
    }
}
