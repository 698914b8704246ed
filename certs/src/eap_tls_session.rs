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
//! PEAP (draft-josefsson-pppext-eap-tls-eap-06, [MS-PEAP]) frames its TLS the same way (PEAPv0's
//! flags octet is EAP-TLS's with version bits 0), with no client certificate: a session started
//! with [`EapTlsSession::start_tunnel`] does not end with the handshake but opens a tunnel
//! ([`Step::TunnelOpen`]), through which the caller then exchanges the inner EAP conversation
//! ([`EapTlsSession::send_inner`], [`Step::Inner`]).
//!
//! Flights larger than the fragment size go out in fragments, each acknowledged by the peer;
//! the peer's fragments are acknowledged by us. Whatever the peer sends, memory stays within
//! one reassembled flight ([`MAX_TLS_MESSAGE`](crate::eap_tls_fragments::MAX_TLS_MESSAGE))
//! plus rustls' own bounded buffers, and nothing here panics.

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;

use rustls::{ProtocolVersion, ServerConfig, ServerConnection};
use tracing::{debug, info};
use zeroize::Zeroizing;

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
    /// A tunnel's handshake finished and the peer acknowledged it: send the first inner
    /// message with [`EapTlsSession::send_inner`].
    TunnelOpen,
    /// What the peer sent through the tunnel, decrypted.
    Inner(Zeroizing<Vec<u8>>),
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
    /// A tunnel is open: waiting for (the next fragment of) the peer's tunneled records.
    Tunnel(Inbound),
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
    /// The flight carried inner data through the tunnel: the peer's tunneled answer.
    Tunnel,
}

/// What the handshake is for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    /// EAP-TLS: the client certificate names the user.
    CertificateLogin(IdentityPolicy),
    /// PEAP: a tunnel for the inner conversation.
    Tunnel,
}

/// The server side of one EAP-TLS conversation.
pub struct EapTlsSession {
    connection: ServerConnection,
    state: State,
    fragment_size: usize,
    purpose: Purpose,
}

impl EapTlsSession {
    /// A new conversation and the Type-Data of its EAP-TLS Start. `fragment_size` is the TLS
    /// data per EAP-TLS fragment.
    pub fn start(
        config: Arc<ServerConfig>,
        fragment_size: usize,
        identity_policy: IdentityPolicy,
    ) -> Result<(Self, Vec<u8>), Rejection> {
        Self::begin(
            config,
            fragment_size,
            Purpose::CertificateLogin(identity_policy),
        )
    }

    /// A new PEAPv0 tunnel (`TlsServer::tunnel_config`) and the Type-Data of its PEAP Start:
    /// S set, version 0.
    pub fn start_tunnel(
        config: Arc<ServerConfig>,
        fragment_size: usize,
    ) -> Result<(Self, Vec<u8>), Rejection> {
        Self::begin(config, fragment_size, Purpose::Tunnel)
    }

    fn begin(
        config: Arc<ServerConfig>,
        fragment_size: usize,
        purpose: Purpose,
    ) -> Result<(Self, Vec<u8>), Rejection> {
        let connection =
            ServerConnection::new(config).map_err(|_| Rejection::TlsHandshakeFailed)?;
        let session = Self {
            connection,
            state: State::Receiving(Inbound::default()),
            fragment_size,
            purpose,
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
        if matches!(step, Step::Established(_) | Step::Failed(_)) {
            self.state = State::Over;
        }
        step
    }

    /// Sends `inner` through the open tunnel: the Type-Data of the next PEAP Request (the
    /// first fragment, should it not fit one). Only once the peer's last message was handled.
    pub fn send_inner(&mut self, inner: &[u8]) -> Step {
        if !matches!(&self.state, State::Tunnel(inbound) if inbound.is_empty()) {
            return self.fail(Rejection::EapTlsMalformed);
        }
        if self.connection.writer().write_all(inner).is_err() {
            return self.fail(Rejection::TlsHandshakeFailed);
        }
        match self.take_output() {
            Some(records) => self.send(
                Outbound::new(records, self.fragment_size),
                AfterFlight::Tunnel,
            ),
            None => self.fail(Rejection::TlsHandshakeFailed),
        }
    }

    /// The MSK of an open PEAPv0 tunnel: TLS-PRF(master secret, "client EAP encryption",
    /// client.random || server.random), as EAP-TLS over TLS 1.2 (RFC 5216 §2.3), which is what
    /// [MS-PEAP] §3.1.5.5 and hostapd use without crypto binding.
    pub fn tunnel_msk(&self) -> Result<MasterSessionKey, Rejection> {
        match (self.purpose, self.connection.protocol_version()) {
            (Purpose::Tunnel, Some(ProtocolVersion::TLSv1_2)) => {
                MasterSessionKey::export(&self.connection)
            }
            _ => Err(Rejection::TlsHandshakeFailed),
        }
    }

    fn fail(&mut self, rejection: Rejection) -> Step {
        self.state = State::Over;
        Step::Failed(rejection)
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
            State::AwaitingFinalAck if fragment.is_ack() => match self.purpose {
                Purpose::CertificateLogin(identity_policy) => self.established(identity_policy),
                Purpose::Tunnel => {
                    self.state = State::Tunnel(Inbound::default());
                    Step::TunnelOpen
                }
            },
            State::Tunnel(mut inbound) => match inbound.add(&fragment) {
                Ok(None) => {
                    self.state = State::Tunnel(inbound);
                    Step::Continue(ack())
                }
                Ok(Some(records)) => {
                    self.state = State::Tunnel(Inbound::default());
                    self.read_inner(&records)
                }
                Err(problem) => {
                    debug!(?problem, "PEAP framing refused");
                    Step::Failed(Rejection::EapTlsMalformed)
                }
            },
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
            (true, AfterFlight::Tunnel) => State::Tunnel(Inbound::default()),
        };
        Step::Continue(fragment)
    }

    /// The plaintext of the peer's tunneled records; none (a close_notify, say) fails.
    fn read_inner(&mut self, records: &[u8]) -> Step {
        if let Err(error) = self.read(records) {
            info!(%error, "PEAP tunnel data refused");
            return Step::Failed(Rejection::TlsHandshakeFailed);
        }
        let mut plaintext = Zeroizing::new(Vec::new());
        let mut buffer = Zeroizing::new([0u8; 1024]);
        loop {
            match self.connection.reader().read(&mut buffer[..]) {
                Ok(0) => break,
                Ok(read) => plaintext.extend_from_slice(buffer.get(..read).unwrap_or_default()),
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return Step::Failed(Rejection::TlsHandshakeFailed),
            }
        }
        if plaintext.is_empty() {
            return Step::Failed(Rejection::TlsHandshakeFailed);
        }
        Step::Inner(plaintext)
    }

    fn established(&mut self, identity_policy: IdentityPolicy) -> Step {
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
            identity: identity_of(certificate, identity_policy),
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

    /// A PEAP peer without a client certificate: rustls' client, its TLS records carried whole
    /// (the tests use fragments larger than any flight).
    struct TunnelPeer(rustls::ClientConnection);

    impl TunnelPeer {
        fn new(setup: &Setup, version: &'static SupportedProtocolVersion) -> TunnelPeer {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in
                <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_file_iter(
                    setup.dir.path().join("ca.pem"),
                )
                    .unwrap()
            {
                roots.add(certificate.unwrap()).unwrap();
            }
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(SERVER_NAME).unwrap();
            TunnelPeer(rustls::ClientConnection::new(Arc::new(config), name).unwrap())
        }

        /// The Type-Data answering a Request's (one fragment, L set, or the Start).
        fn respond(&mut self, request: &[u8], inner: &[u8]) -> Vec<u8> {
            let mut records = match request.first() {
                Some(0x20) => &[][..],
                _ => &request[5..],
            };
            while !records.is_empty() {
                self.0.read_tls(&mut records).unwrap();
                self.0.process_new_packets().unwrap();
            }
            if !inner.is_empty() {
                self.0.writer().write_all(inner).unwrap();
            }
            let mut output = Vec::new();
            while self.0.wants_write() {
                self.0.write_tls(&mut output).unwrap();
            }
            if output.is_empty() {
                return vec![0];
            }
            let mut type_data = vec![0x80];
            type_data.extend_from_slice(&u32::try_from(output.len()).unwrap().to_be_bytes());
            type_data.extend_from_slice(&output);
            type_data
        }

        fn plaintext(&mut self) -> Vec<u8> {
            let mut plaintext = Vec::new();
            let _ = self.0.reader().read_to_end(&mut plaintext);
            plaintext
        }
    }

    #[test]
    fn a_tunnel_opens_without_a_client_certificate_and_carries_inner_data_both_ways() {
        let setup = Setup::new();
        let (mut session, mut request) =
            EapTlsSession::start_tunnel(setup.server.tunnel_config(), 4000).unwrap();
        assert_eq!(request, [0x20], "PEAPv0 Start");
        assert!(matches!(session.send_inner(b"early"), Step::Failed(_)));
        let (mut session, start) =
            EapTlsSession::start_tunnel(setup.server.tunnel_config(), 4000).unwrap();
        request = start;
        let mut peer = TunnelPeer::new(&setup, &rustls::version::TLS12);
        loop {
            match session.advance(&peer.respond(&request, b"")) {
                Step::Continue(next) => request = next,
                Step::TunnelOpen => break,
                other => panic!("{other:?}"),
            }
        }
        let Step::Continue(inner_request) = session.send_inner(&[1]) else {
            panic!("nothing sent");
        };
        let answer = peer.respond(&inner_request, &[1, b'a', b'l', b'i', b'c', b'e']);
        assert_eq!(peer.plaintext(), [1]);
        let Step::Inner(inner) = session.advance(&answer) else {
            panic!("no inner data");
        };
        assert_eq!(inner.as_slice(), b"\x01alice");
        let mut peer_msk = Zeroizing::new([0u8; 128]);
        peer.0
            .export_keying_material(&mut peer_msk[..], b"client EAP encryption", None)
            .unwrap();
        let msk = session.tunnel_msk().unwrap();
        assert!(msk.is_split_into(&peer_msk[..32], &peer_msk[32..64]));
        // An empty response where tunneled data belongs is refused.
        assert!(matches!(session.send_inner(&[2]), Step::Continue(_)));
        assert!(matches!(session.advance(&[0]), Step::Failed(_)));
    }

    #[test]
    fn a_tunnel_is_tls12_only_and_an_eap_tls_session_opens_none() {
        let setup = Setup::new();
        let (mut session, start) =
            EapTlsSession::start_tunnel(setup.server.tunnel_config(), 4000).unwrap();
        let mut peer = TunnelPeer::new(&setup, &rustls::version::TLS13);
        let client_hello = peer.respond(&start, b"");
        assert!(matches!(session.advance(&client_hello), Step::Continue(_)));
        assert!(
            session.refusal().is_some(),
            "a TLS 1.3 ClientHello gets an alert"
        );
        let (mut login, _) = EapTlsSession::start(
            setup.server.config().unwrap(),
            4000,
            IdentityPolicy::default(),
        )
        .unwrap();
        assert!(matches!(login.send_inner(&[1]), Step::Failed(_)));
        assert!(login.tunnel_msk().is_err());
    }
}
