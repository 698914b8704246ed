//! A simulated NAS for integration tests, the demo CLI and the benchmark:
//! PAP logins, Status-Server probes (RFC 5997) and Accounting-Requests
//! (RFC 2866).
//!
//! It behaves like a hardened NAS: a Request Authenticator from the
//! operating system's CSPRNG (RFC 2865 §3 asks for one that is unpredictable
//! and unique), a Message-Authenticator first in the request when enabled,
//! identical retransmissions on timeout (RFC 5080 §2.2.1), and responses
//! accepted only when both their Response Authenticator (RFC 2865 §3) and
//! their Message-Authenticator (RFC 3579 §3.2) verify.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Mutex;
use tokio::time::sleep;
use tracing::debug;

use crate::dictionary::{
    ACCESS_ACCEPT, ACCESS_CHALLENGE, ACCESS_REJECT, ACCESS_REQUEST, ACCOUNTING_REQUEST,
    ACCOUNTING_RESPONSE, CALLING_STATION_ID, EAP_MESSAGE, MESSAGE_AUTHENTICATOR, NAS_IDENTIFIER,
    STATE, STATUS_SERVER, USER_NAME, USER_PASSWORD,
};
use crate::message_authenticator;
use crate::packet::{
    overwrite, Authenticator, Packet, PacketWriter, MAX_ATTRIBUTE_VALUE_LEN, MAX_PACKET_LEN,
};
use crate::request_authenticator;
use crate::response_authenticator;
use crate::secret::SharedSecret;
use crate::user_password;

/// How a [`RadiusClient`] talks to the server.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long to wait for a valid response before retransmitting.
    pub timeout: Duration,
    /// Retransmissions after the first attempt.
    pub retries: u32,
    /// Put a Message-Authenticator first in every request (RFC 3579 §3.2).
    pub send_message_authenticator: bool,
    /// NAS-Identifier to send (RFC 2865 §5.32). RFC 2865 §4.1 requires it
    /// or NAS-IP-Address, so leaving it out simulates a non-conforming NAS.
    pub nas_identifier: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            retries: 2,
            send_message_authenticator: true,
            nas_identifier: Some("adgate-client".to_owned()),
        }
    }
}

/// The kind of answer the server gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseCode {
    Accept,
    Reject,
    Challenge,
    /// Accounting-Response (RFC 2866 §4.2).
    AccountingResponse,
}

/// A verified response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: ResponseCode,
    /// Every attribute as received, in order, Message-Authenticator included.
    pub attributes: Vec<(u8, Vec<u8>)>,
    /// Whether the Message-Authenticator was the first attribute.
    pub message_authenticator_first: bool,
}

/// Why no verified response was obtained.
///
/// Invalid responses are silently discarded while waiting, as RFC 2865 §3
/// requires of a NAS, so a forged datagram cannot cut a request short; if no
/// valid response arrives, the last discarded one's fault is reported
/// instead of [`ClientError::Timeout`], to point at the misconfiguration.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no response from the RADIUS server")]
    Timeout,
    #[error("response discarded: its Response Authenticator does not verify (is the shared secret right?)")]
    BadResponseAuthenticator,
    #[error("response discarded: its Message-Authenticator does not verify")]
    BadMessageAuthenticator,
    #[error("response discarded: it has no Message-Authenticator")]
    MissingMessageAuthenticator,
    #[error(
        "response discarded: not a well-formed Access-Accept, Access-Reject, Access-Challenge or Accounting-Response"
    )]
    Malformed,
    #[error("request not sent: {0}")]
    InvalidRequest(&'static str),
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
}

/// A NAS speaking to one RADIUS server from its own UDP port.
///
/// Requests go one at a time: concurrent [`RadiusClient::pap`] calls from
/// several tasks are safe but wait for each other. For parallel load, create
/// one client per task; each has its own source port and so its own
/// Identifier space (RFC 2865 §3).
pub struct RadiusClient {
    /// Connected to the server, so the kernel drops datagrams from elsewhere.
    socket: UdpSocket,
    server: SocketAddr,
    secret: SharedSecret,
    options: ClientOptions,
    /// The next Identifier; the lock also serializes requests.
    next_identifier: Mutex<u8>,
}

impl RadiusClient {
    /// Binds an ephemeral port of the server's address family. Must be
    /// called within a Tokio runtime with I/O enabled.
    pub fn new(
        server: SocketAddr,
        secret: SharedSecret,
        options: ClientOptions,
    ) -> io::Result<Self> {
        tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = std::net::UdpSocket::bind(local)?;
        socket.connect(server)?;
        socket.set_nonblocking(true)?;
        let mut random_octet = [0];
        getrandom::fill(&mut random_octet)?;
        let [first_identifier] = random_octet;
        Ok(Self {
            socket: UdpSocket::from_std(socket)?,
            server,
            secret,
            options,
            next_identifier: Mutex::new(first_identifier),
        })
    }

    /// Sends a PAP Access-Request and waits for a verified answer,
    /// retransmitting the identical packet on each timeout.
    pub async fn pap(&self, user_name: &[u8], password: &[u8]) -> Result<Response, ClientError> {
        let (identifier, request_authenticator) = self.next_request().await?;
        let request =
            self.access_request(identifier, &request_authenticator, user_name, password)?;
        self.exchange(&request, identifier, &request_authenticator)
            .await
    }

    /// Sends a PAP Access-Request from the station `calling_station_id` (RFC 2865 §5.31: where
    /// a VPN says the user connects from), as [`RadiusClient::pap`] does otherwise.
    pub async fn pap_from(
        &self,
        calling_station_id: &str,
        user_name: &[u8],
        password: &[u8],
    ) -> Result<Response, ClientError> {
        let (identifier, request_authenticator) = self.next_request().await?;
        let hidden_password = self.hide(&request_authenticator, password)?;
        let request = self.access_request_with(
            identifier,
            &request_authenticator,
            user_name,
            &[
                (USER_PASSWORD, &hidden_password),
                (CALLING_STATION_ID, calling_station_id.as_bytes()),
            ],
        )?;
        self.exchange(&request, identifier, &request_authenticator)
            .await
    }

    /// The server this client sends to.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Sends Status-Server (RFC 5997 §3), always with Message-Authenticator,
    /// and waits for the verified answer.
    pub async fn status_server(&self) -> Result<Response, ClientError> {
        let (identifier, request_authenticator) = self.next_request().await?;
        let request = self.status_server_request(identifier, &request_authenticator)?;
        self.exchange(&request, identifier, &request_authenticator)
            .await
    }

    /// Sends an Accounting-Request with these attributes (and the
    /// NAS-Identifier from the options) and waits for the verified
    /// Accounting-Response.
    pub async fn accounting(&self, attributes: &[(u8, &[u8])]) -> Result<Response, ClientError> {
        let (identifier, _) = self.next_request().await?;
        let request = self.accounting_request(identifier, attributes)?;
        let request_authenticator: Authenticator = request
            .get(4..20)
            .and_then(|authenticator| authenticator.try_into().ok())
            .unwrap_or_default();
        self.exchange(&request, identifier, &request_authenticator)
            .await
    }

    /// The datagram [`RadiusClient::pap`] would send next, for callers that
    /// send it themselves: retransmission tests and the benchmark.
    pub async fn pap_datagram(
        &self,
        user_name: &[u8],
        password: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        let (identifier, request_authenticator) = self.next_request().await?;
        self.access_request(identifier, &request_authenticator, user_name, password)
    }

    /// The datagram [`RadiusClient::status_server`] would send next.
    pub async fn status_server_datagram(&self) -> Result<Vec<u8>, ClientError> {
        let (identifier, request_authenticator) = self.next_request().await?;
        self.status_server_request(identifier, &request_authenticator)
    }

    /// A fresh Identifier and a Request Authenticator from the CSPRNG.
    async fn next_request(&self) -> Result<(u8, Authenticator), ClientError> {
        let mut next_identifier = self.next_identifier.lock().await;
        let identifier = *next_identifier;
        *next_identifier = identifier.wrapping_add(1);
        let mut request_authenticator = [0; 16];
        getrandom::fill(&mut request_authenticator).map_err(io::Error::from)?;
        Ok((identifier, request_authenticator))
    }

    fn status_server_request(
        &self,
        identifier: u8,
        request_authenticator: &Authenticator,
    ) -> Result<Vec<u8>, ClientError> {
        let mut writer = PacketWriter::new(STATUS_SERVER, identifier, request_authenticator);
        let offset = writer
            .push(
                MESSAGE_AUTHENTICATOR,
                &[0; message_authenticator::VALUE_LEN],
            )
            .map_err(|_| ClientError::InvalidRequest("packet over 4096 octets"))?;
        self.push_nas_identifier(&mut writer)?;
        let mut request = writer.into_bytes();
        let signature = message_authenticator::sign(&self.secret, &request);
        overwrite(&mut request, offset, &signature);
        Ok(request)
    }

    fn accounting_request(
        &self,
        identifier: u8,
        attributes: &[(u8, &[u8])],
    ) -> Result<Vec<u8>, ClientError> {
        let mut writer = PacketWriter::new(ACCOUNTING_REQUEST, identifier, &[0; 16]);
        for (attribute_type, value) in attributes {
            writer
                .push(*attribute_type, value)
                .map_err(|_| ClientError::InvalidRequest("attribute over 253 octets"))?;
        }
        self.push_nas_identifier(&mut writer)?;
        let mut request = writer.into_bytes();
        // RFC 2866 §3: MD5 over the packet with a zero Authenticator, then the secret.
        request_authenticator::seal(&self.secret, &mut request, None);
        Ok(request)
    }

    fn push_nas_identifier(&self, writer: &mut PacketWriter) -> Result<(), ClientError> {
        if let Some(nas_identifier) = &self.options.nas_identifier {
            writer
                .push(NAS_IDENTIFIER, nas_identifier.as_bytes())
                .map_err(|_| ClientError::InvalidRequest("NAS-Identifier over 253 octets"))?;
        }
        Ok(())
    }

    /// Sends an Access-Request carrying `credential` (e.g. the MS-CHAP attributes of
    /// [`ms_chap::request_attributes`](crate::ms_chap::request_attributes)) and waits for a
    /// verified answer. The response carries the Request Authenticator used, which keys any
    /// MS-MPPE keys in it (RFC 2548 §2.4.2).
    pub async fn access_with(
        &self,
        user_name: &[u8],
        credential: &[(u8, &[u8])],
    ) -> Result<(Response, Authenticator), ClientError> {
        let (identifier, request_authenticator) = self.next_request().await?;
        let request =
            self.access_request_with(identifier, &request_authenticator, user_name, credential)?;
        let response = self
            .exchange(&request, identifier, &request_authenticator)
            .await?;
        Ok((response, request_authenticator))
    }

    /// Sends one EAP packet (split into EAP-Message attributes, RFC 3579
    /// §3.1) with the State of the previous Access-Challenge, and waits for
    /// a verified answer; an empty packet is sent as EAP-Start, one
    /// EAP-Message with no data (§2.1). The response carries the Request
    /// Authenticator used, which keys any MS-MPPE keys in it (RFC 2548 §2.4.2).
    pub async fn eap(
        &self,
        user_name: &[u8],
        eap_packet: &[u8],
        state: Option<&[u8]>,
    ) -> Result<(Response, Authenticator), ClientError> {
        let mut next_identifier = self.next_identifier.lock().await;
        let identifier = *next_identifier;
        *next_identifier = identifier.wrapping_add(1);
        let mut request_authenticator = [0; 16];
        getrandom::fill(&mut request_authenticator).map_err(io::Error::from)?;
        let mut credential: Vec<(u8, &[u8])> = if eap_packet.is_empty() {
            vec![(EAP_MESSAGE, eap_packet)]
        } else {
            eap_packet
                .chunks(MAX_ATTRIBUTE_VALUE_LEN)
                .map(|chunk| (EAP_MESSAGE, chunk))
                .collect()
        };
        credential.extend(state.map(|state| (STATE, state)));
        let request =
            self.access_request_with(identifier, &request_authenticator, user_name, &credential)?;
        let response = self
            .exchange(&request, identifier, &request_authenticator)
            .await?;
        Ok((response, request_authenticator))
    }

    fn access_request(
        &self,
        identifier: u8,
        request_authenticator: &Authenticator,
        user_name: &[u8],
        password: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        let hidden_password = self.hide(request_authenticator, password)?;
        self.access_request_with(
            identifier,
            request_authenticator,
            user_name,
            &[(USER_PASSWORD, &hidden_password)],
        )
    }

    /// User-Password's value hiding `password` (RFC 2865 §5.2).
    fn hide(
        &self,
        request_authenticator: &Authenticator,
        password: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        user_password::hide(&self.secret, request_authenticator, password)
            .map_err(|_| ClientError::InvalidRequest("password over 128 octets (RFC 2865 §5.2)"))
    }

    /// A signed Access-Request carrying User-Name, `credential` and the
    /// configured NAS-Identifier.
    fn access_request_with(
        &self,
        identifier: u8,
        request_authenticator: &Authenticator,
        user_name: &[u8],
        credential: &[(u8, &[u8])],
    ) -> Result<Vec<u8>, ClientError> {
        let too_long =
            |_| ClientError::InvalidRequest("request over 4096 octets or an attribute over 253");
        let mut writer = PacketWriter::new(ACCESS_REQUEST, identifier, request_authenticator);
        let message_authenticator_offset = if self.options.send_message_authenticator {
            let placeholder = [0; message_authenticator::VALUE_LEN];
            Some(
                writer
                    .push(MESSAGE_AUTHENTICATOR, &placeholder)
                    .map_err(too_long)?,
            )
        } else {
            None
        };
        writer.push(USER_NAME, user_name).map_err(too_long)?;
        for (attribute_type, value) in credential {
            writer.push(*attribute_type, value).map_err(too_long)?;
        }
        self.push_nas_identifier(&mut writer)?;
        let mut request = writer.into_bytes();
        if let Some(offset) = message_authenticator_offset {
            let signature = message_authenticator::sign(&self.secret, &request);
            overwrite(&mut request, offset, &signature);
        }
        Ok(request)
    }

    async fn exchange(
        &self,
        request: &[u8],
        identifier: u8,
        request_authenticator: &Authenticator,
    ) -> Result<Response, ClientError> {
        // One octet over the RFC 2865 §3 maximum, to notice oversized datagrams.
        let mut buffer = vec![0; MAX_PACKET_LEN + 1];
        let mut last_discarded = None;
        for _attempt in 0..=self.options.retries {
            // RFC 5080 §2.2.1: a retransmission repeats the packet unchanged,
            // same Identifier and Request Authenticator, so the server can
            // recognise it as a duplicate.
            self.socket.send(request).await?;
            let expiry = sleep(self.options.timeout);
            tokio::pin!(expiry);
            loop {
                let length = tokio::select! {
                    () = &mut expiry => break,
                    received = self.socket.recv(&mut buffer) => received?,
                };
                let datagram = buffer.get(..length).unwrap_or_default();
                match self.verify(datagram, identifier, request_authenticator) {
                    Ok(Some(response)) => return Ok(response),
                    Ok(None) => debug!(identifier, "ignoring a response to an earlier request"),
                    Err(fault) => {
                        debug!(identifier, %fault, "response discarded");
                        last_discarded = Some(fault);
                    }
                }
            }
        }
        Err(last_discarded.unwrap_or(ClientError::Timeout))
    }

    /// The verified response, or `None` for an answer to another Identifier.
    fn verify(
        &self,
        datagram: &[u8],
        identifier: u8,
        request_authenticator: &Authenticator,
    ) -> Result<Option<Response>, ClientError> {
        let packet = Packet::parse(datagram).map_err(|_| ClientError::Malformed)?;
        if packet.identifier() != identifier {
            return Ok(None);
        }
        let code = match packet.code() {
            ACCESS_ACCEPT => ResponseCode::Accept,
            ACCESS_REJECT => ResponseCode::Reject,
            ACCESS_CHALLENGE => ResponseCode::Challenge,
            ACCOUNTING_RESPONSE => ResponseCode::AccountingResponse,
            _ => return Err(ClientError::Malformed),
        };
        if !response_authenticator::verify(&self.secret, &packet, request_authenticator) {
            return Err(ClientError::BadResponseAuthenticator);
        }
        let signature = message_authenticator::find(&packet).map_err(|_| ClientError::Malformed)?;
        match signature {
            Some(signature)
                if !message_authenticator::verify(
                    &self.secret,
                    &packet,
                    &signature,
                    request_authenticator,
                ) =>
            {
                return Err(ClientError::BadMessageAuthenticator);
            }
            Some(_) => {}
            // RFC 2866 defines no Message-Authenticator for an
            // Accounting-Response; every other answer must carry one.
            None if code == ResponseCode::AccountingResponse => {}
            None => return Err(ClientError::MissingMessageAuthenticator),
        }
        let attributes = packet.attributes();
        Ok(Some(Response {
            code,
            attributes: attributes
                .iter()
                .map(|attribute| (attribute.attribute_type, attribute.value.to_vec()))
                .collect(),
            message_authenticator_first: attributes
                .first()
                .is_some_and(|attribute| attribute.attribute_type == MESSAGE_AUTHENTICATOR),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clients::NasClient;
    use crate::dictionary::REPLY_MESSAGE;
    use crate::handler::{Reply, ReplyAttribute};
    use crate::packet::AUTHENTICATOR_OFFSET;
    use crate::response::ResponseContext;

    const SECRET: &[u8] = b"client-secret";
    const REQUEST_AUTHENTICATOR: Authenticator = [0x3c; 16];

    fn client(options: ClientOptions) -> RadiusClient {
        let server = "127.0.0.1:9".parse().unwrap();
        RadiusClient::new(server, SharedSecret::new(SECRET.to_vec()), options).unwrap()
    }

    fn secret() -> SharedSecret {
        SharedSecret::new(SECRET.to_vec())
    }

    fn request(client: &RadiusClient, identifier: u8) -> Vec<u8> {
        client
            .access_request(identifier, &REQUEST_AUTHENTICATOR, b"alice", b"right")
            .unwrap()
    }

    /// A response signed the way the server signs it.
    fn server_response(request: &[u8], reply: &Reply) -> Vec<u8> {
        let nas = Arc::new(NasClient {
            name: "nas".to_owned(),
            secret: secret(),
            require_message_authenticator: crate::clients::MessageAuthenticatorRule::Always,
            limit_proxy_state: true,
            max_in_flight: 1,
            state: crate::clients::ClientState::default(),
        });
        ResponseContext::new(&Packet::parse(request).unwrap(), nas)
            .encode(reply)
            .unwrap()
    }

    /// An Access-Accept with these attributes and a valid Response
    /// Authenticator, signing a Message-Authenticator among them if present.
    fn hand_built_accept(identifier: u8, attributes: &[(u8, &[u8])]) -> Vec<u8> {
        let mut writer = PacketWriter::new(ACCESS_ACCEPT, identifier, &REQUEST_AUTHENTICATOR);
        let mut message_authenticator_offset = None;
        for (attribute_type, value) in attributes {
            let offset = writer.push(*attribute_type, value).unwrap();
            if *attribute_type == MESSAGE_AUTHENTICATOR {
                message_authenticator_offset = Some(offset);
            }
        }
        let mut response = writer.into_bytes();
        if let Some(offset) = message_authenticator_offset {
            let signature = message_authenticator::sign(&secret(), &response);
            overwrite(&mut response, offset, &signature);
        }
        let authenticator = response_authenticator::compute(&secret(), &response);
        overwrite(&mut response, AUTHENTICATOR_OFFSET, &authenticator);
        response
    }

    #[tokio::test]
    async fn builds_a_signed_request_with_message_authenticator_first() {
        let client = client(ClientOptions::default());
        let request = request(&client, 7);
        let packet = Packet::parse(&request).unwrap();
        assert_eq!((packet.code(), packet.identifier()), (ACCESS_REQUEST, 7));
        let types: Vec<u8> = packet
            .attributes()
            .iter()
            .map(|a| a.attribute_type)
            .collect();
        assert_eq!(
            types,
            [
                MESSAGE_AUTHENTICATOR,
                USER_NAME,
                USER_PASSWORD,
                NAS_IDENTIFIER
            ]
        );
        let signature = message_authenticator::find(&packet).unwrap().unwrap();
        assert!(message_authenticator::verify(
            &secret(),
            &packet,
            &signature,
            &REQUEST_AUTHENTICATOR
        ));
        let hidden = packet.values(USER_PASSWORD).next().unwrap();
        let password = user_password::unhide(&secret(), &REQUEST_AUTHENTICATOR, hidden).unwrap();
        assert_eq!(password.expose(), b"right");
        assert_eq!(
            packet.values(NAS_IDENTIFIER).next().unwrap(),
            b"adgate-client"
        );
    }

    #[tokio::test]
    async fn leaves_out_what_the_options_turn_off() {
        let client = client(ClientOptions {
            send_message_authenticator: false,
            nas_identifier: None,
            ..ClientOptions::default()
        });
        let request = request(&client, 7);
        let packet = Packet::parse(&request).unwrap();
        let types: Vec<u8> = packet
            .attributes()
            .iter()
            .map(|a| a.attribute_type)
            .collect();
        assert_eq!(types, [USER_NAME, USER_PASSWORD]);
    }

    #[tokio::test]
    async fn refuses_to_send_what_rfc_2865_forbids() {
        let client = client(ClientOptions::default());
        let too_long_password =
            client.access_request(1, &REQUEST_AUTHENTICATOR, b"a", &[b'p'; 129]);
        assert!(matches!(
            too_long_password,
            Err(ClientError::InvalidRequest(_))
        ));
        let too_long_name = client.access_request(1, &REQUEST_AUTHENTICATOR, &[b'n'; 254], b"p");
        assert!(matches!(too_long_name, Err(ClientError::InvalidRequest(_))));
    }

    #[tokio::test]
    async fn accepts_the_servers_responses() {
        let client = client(ClientOptions::default());
        let request = request(&client, 7);
        let reply = Reply::Accept {
            attributes: vec![ReplyAttribute::reply_message("hi").unwrap()],
        };
        let response = server_response(&request, &reply);
        let verified = client
            .verify(&response, 7, &REQUEST_AUTHENTICATOR)
            .unwrap()
            .unwrap();
        assert_eq!(verified.code, ResponseCode::Accept);
        assert!(verified.message_authenticator_first);
        assert_eq!(verified.attributes[1], (REPLY_MESSAGE, b"hi".to_vec()));

        let response = server_response(&request, &Reply::Reject);
        let verified = client
            .verify(&response, 7, &REQUEST_AUTHENTICATOR)
            .unwrap()
            .unwrap();
        assert_eq!(verified.code, ResponseCode::Reject);
    }

    #[tokio::test]
    async fn ignores_answers_to_other_identifiers() {
        let client = client(ClientOptions::default());
        let response = server_response(&request(&client, 6), &Reply::Reject);
        assert!(client
            .verify(&response, 7, &REQUEST_AUTHENTICATOR)
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn reports_where_a_message_authenticator_is_not_first() {
        let client = client(ClientOptions::default());
        let response = hand_built_accept(
            7,
            &[(REPLY_MESSAGE, b"hi"), (MESSAGE_AUTHENTICATOR, &[0; 16])],
        );
        let verified = client
            .verify(&response, 7, &REQUEST_AUTHENTICATOR)
            .unwrap()
            .unwrap();
        assert!(!verified.message_authenticator_first);
    }

    #[tokio::test]
    async fn discards_unverifiable_responses() {
        let client = client(ClientOptions::default());
        let verify = |response: &[u8]| {
            client
                .verify(response, 7, &REQUEST_AUTHENTICATOR)
                .unwrap_err()
        };

        let unsigned = hand_built_accept(7, &[(REPLY_MESSAGE, b"hi")]);
        assert!(matches!(
            verify(&unsigned),
            ClientError::MissingMessageAuthenticator
        ));

        let mut forged_signature = hand_built_accept(7, &[(MESSAGE_AUTHENTICATOR, &[0; 16])]);
        overwrite(&mut forged_signature, 22, &[0xff; 16]);
        let authenticator = response_authenticator::compute(
            &secret(),
            &Packet::parse(&forged_signature)
                .unwrap()
                .with_authenticator(&REQUEST_AUTHENTICATOR),
        );
        overwrite(&mut forged_signature, AUTHENTICATOR_OFFSET, &authenticator);
        assert!(matches!(
            verify(&forged_signature),
            ClientError::BadMessageAuthenticator
        ));

        let mut tampered = hand_built_accept(7, &[(MESSAGE_AUTHENTICATOR, &[0; 16])]);
        tampered[AUTHENTICATOR_OFFSET] ^= 1;
        assert!(matches!(
            verify(&tampered),
            ClientError::BadResponseAuthenticator
        ));

        let mut not_a_response = hand_built_accept(7, &[(MESSAGE_AUTHENTICATOR, &[0; 16])]);
        not_a_response[0] = ACCESS_REQUEST;
        assert!(matches!(verify(&not_a_response), ClientError::Malformed));
        assert!(matches!(verify(&[2, 7, 0]), ClientError::Malformed));
    }

    #[tokio::test]
    async fn retransmits_the_identical_request_then_reports_the_last_fault() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let options = ClientOptions {
            timeout: Duration::from_millis(100),
            retries: 2,
            ..ClientOptions::default()
        };
        let client = RadiusClient::new(
            server.local_addr().unwrap(),
            SharedSecret::new(SECRET.to_vec()),
            options,
        )
        .unwrap();
        let fake_server = tokio::spawn(async move {
            let mut received = Vec::new();
            let mut buffer = [0; 4096];
            for _ in 0..3 {
                let (length, from) = server.recv_from(&mut buffer).await.unwrap();
                let request = buffer[..length].to_vec();
                // Signed with the wrong secret: the client must discard it.
                let mut response = request.clone();
                response[0] = ACCESS_ACCEPT;
                server.send_to(&response, from).await.unwrap();
                received.push(request);
            }
            received
        });
        let error = client.pap(b"alice", b"right").await.unwrap_err();
        assert!(
            matches!(error, ClientError::BadResponseAuthenticator),
            "{error:?}"
        );
        let received = fake_server.await.unwrap();
        assert!(received.iter().all(|request| *request == received[0]));
    }
}
