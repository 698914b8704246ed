//! SoftEther VPN Server's JSON-RPC admin API, as far as live sessions need it: list a Virtual
//! Hub's sessions (`EnumSession`) and end one (`DeleteSession`). SoftEther has no RFC 5176 and
//! sends no accounting; this API (SoftEther ≥ 4.29 and 5.x, `POST https://HOST:PORT/api/` on
//! the server's own listener; developer_tools/vpnserver-jsonrpc-clients/README.md of
//! SoftEtherVPN) is how adgate learns and ends sessions, with no child process and the
//! password in a header, never on a command line.
//!
//! adgate logs in as the hub's administrator (`X-VPNADMIN-HUBNAME`, `X-VPNADMIN-PASSWORD`).
//! The server's certificate is self-signed by default, so it is pinned: the SHA-256 of the
//! certificate the server presents must equal `server_certificate_sha256` (compared in
//! constant time), and the server must prove it holds the certificate's key (the handshake
//! signature is verified as usual). Answers are mapped onto what a Disconnect-Request would
//! have got, so the table, the trail and the metrics treat every driver alike: a deleted
//! session is an ACK, SoftEther's "object not found" (error 29) a NAK 503.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{DisconnectOutcome, SharedSecret, SESSION_CONTEXT_NOT_FOUND};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// One call, connect to answer, must end within this.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read: about 1 kB a session, so room for some 15,000 sessions.
const MAX_ANSWER: usize = 16 << 20;
/// SoftEther's ERR_OBJECT_NOT_FOUND (src/Cedar/Cedar.h): `DeleteSession` of no such session.
const ERR_OBJECT_NOT_FOUND: u32 = 29;

/// How adgate reaches one hub: `[clients.disconnect] kind = "softether"`.
#[derive(Clone)]
pub struct SoftEtherHub {
    /// The Virtual Hub (`hub`), also the administrator's name.
    pub hub: String,
    /// The hub administrator's password (`password_file`), a valid header value.
    password: Arc<SharedSecret>,
    /// SHA-256 of the server's certificate (`server_certificate_sha256`).
    certificate_sha256: [u8; 32],
    /// The TLS client that trusts exactly that certificate: built once, so that every call
    /// (a poll each re-check interval) shares its session cache and can resume.
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for SoftEtherHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftEtherHub")
            .field("hub", &self.hub)
            .field("certificate_sha256", &hex::encode(self.certificate_sha256))
            .finish_non_exhaustive()
    }
}

impl SoftEtherHub {
    /// Checks what the server will be sent: a hub name of printable ASCII (SoftEther's hub
    /// names are ASCII) and a password that a header can carry; sets up the TLS client.
    pub fn new(
        hub: String,
        password: Arc<SharedSecret>,
        certificate_sha256: [u8; 32],
    ) -> Result<SoftEtherHub, UnusableSetting> {
        if hub.is_empty() || !hub.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UnusableSetting::Hub);
        }
        HeaderValue::from_bytes(password.expose()).map_err(|_| UnusableSetting::Password)?;
        let tls = tls_config(certificate_sha256).map_err(|_| UnusableSetting::Tls)?;
        Ok(SoftEtherHub {
            hub,
            password,
            certificate_sha256,
            tls,
        })
    }
}

/// A hub setting the server could not be sent; the message names no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnusableSetting {
    #[error("must be printable ASCII without blanks")]
    Hub,
    #[error("cannot be sent in a header: the password has control characters")]
    Password,
    #[error("no TLS client can be set up with this provider's protocol versions")]
    Tls,
}

/// Parses a SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it (colons
/// optional, either case).
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    let mut fingerprint = [0; 32];
    hex::decode_to_slice(digits, &mut fingerprint).ok()?;
    Some(fingerprint)
}

/// A user's session as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    /// SoftEther's session name (`SID-ALICE-[OPENVPN_L3]-2`): unique on the hub.
    pub name: String,
    /// The login name the client gave.
    pub user_name: String,
    /// The address the client connected from, when the server knows it.
    pub client_ip: Option<IpAddr>,
}

/// Why a call had no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("the server did not answer within {CALL_TIMEOUT:?}")]
    Timeout,
    #[error("cannot reach the server: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("the server refused the hub administrator's password (HTTP 401)")]
    PasswordRefused,
    #[error("the server answered HTTP {0}")]
    Status(StatusCode),
    #[error("the answer is over {MAX_ANSWER} octets or was cut off")]
    Body,
    #[error("the answer is not SoftEther's JSON-RPC: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the server answered error {code}: {message}")]
    Server { code: u32, message: String },
}

/// The user sessions on the hub, without SoftEther's own (SecureNAT, cascades, bridges,
/// layer-3 switches): those are no one's tunnel.
pub async fn enum_sessions(
    address: SocketAddr,
    hub: &SoftEtherHub,
) -> Result<Vec<ListedSession>, RpcError> {
    let params = serde_json::json!({ "HubName_str": hub.hub });
    let answer = call(address, hub, "EnumSession", params).await?;
    sessions_of(&answer)
}

/// Ends the session named `session_name`, or, when adgate has seen none yet (an accept whose
/// session the last poll did not list), every session of `user_name` on the hub.
pub async fn disconnect(
    address: SocketAddr,
    hub: &SoftEtherHub,
    session_name: Option<&str>,
    user_name: &[u8],
) -> Result<DisconnectOutcome, RpcError> {
    if let Some(name) = session_name {
        return delete_session(address, hub, name).await;
    }
    let user_name = String::from_utf8_lossy(user_name);
    // None found is what a NAS says of an unknown session; one deleted ends the user's.
    let mut outcome = DisconnectOutcome::Nak {
        error_cause: Some(SESSION_CONTEXT_NOT_FOUND),
    };
    for session in enum_sessions(address, hub).await? {
        // SoftEther compares user names without regard to case.
        if session.user_name.eq_ignore_ascii_case(&user_name) {
            outcome = match (outcome, delete_session(address, hub, &session.name).await?) {
                (ended @ DisconnectOutcome::Ack { .. }, _)
                | (_, ended @ DisconnectOutcome::Ack { .. }) => ended,
                (_, refused @ DisconnectOutcome::Nak { error_cause: None }) => refused,
                (kept, _) => kept,
            };
        }
    }
    Ok(outcome)
}

async fn delete_session(
    address: SocketAddr,
    hub: &SoftEtherHub,
    name: &str,
) -> Result<DisconnectOutcome, RpcError> {
    let params = serde_json::json!({ "HubName_str": hub.hub, "Name_str": name });
    outcome(call(address, hub, "DeleteSession", params).await)
}

/// A deleted session is an ACK; "object not found" means it was already gone (RFC 5176's
/// 503); any other error the server gives is a NAK, logged with SoftEther's message.
fn outcome(answer: Result<Bytes, RpcError>) -> Result<DisconnectOutcome, RpcError> {
    match answer.and_then(|answer| parse::<serde_json::Value>(&answer)) {
        Ok(_) => Ok(DisconnectOutcome::Ack { error_cause: None }),
        Err(RpcError::Server { code, .. }) if code == ERR_OBJECT_NOT_FOUND => {
            Ok(DisconnectOutcome::Nak {
                error_cause: Some(SESSION_CONTEXT_NOT_FOUND),
            })
        }
        Err(RpcError::Server { code, message }) => {
            tracing::warn!(code, %message, "SoftEther refused to delete a session");
            Ok(DisconnectOutcome::Nak { error_cause: None })
        }
        Err(error) => Err(error),
    }
}

/// An answer's `result`, or its `error` (JSON-RPC 2.0 §5).
#[derive(Deserialize)]
struct Answer<T> {
    result: Option<T>,
    error: Option<ServerError>,
}

#[derive(Deserialize)]
struct ServerError {
    code: u32,
    #[serde(default)]
    message: String,
}

/// `EnumSession`'s result: the fields of each entry that matter here.
#[derive(Deserialize)]
struct SessionList {
    #[serde(rename = "SessionList", default)]
    sessions: Vec<RawSession>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)] // SoftEther's names
struct RawSession {
    Name_str: String,
    Username_str: String,
    #[serde(default)]
    ClientIP_ip: Option<IpAddr>,
    #[serde(default)]
    SecureNATMode_bool: bool,
    #[serde(default)]
    LinkMode_bool: bool,
    #[serde(default)]
    BridgeMode_bool: bool,
    #[serde(default)]
    Layer3Mode_bool: bool,
}

fn parse<T: serde::de::DeserializeOwned>(answer: &[u8]) -> Result<T, RpcError> {
    let answer: Answer<T> = serde_json::from_slice(answer)?;
    match (answer.result, answer.error) {
        (_, Some(error)) => Err(RpcError::Server {
            code: error.code,
            message: error.message,
        }),
        (Some(result), None) => Ok(result),
        (None, None) => Err(RpcError::Server {
            code: 0,
            message: "neither result nor error".into(),
        }),
    }
}

fn sessions_of(answer: &[u8]) -> Result<Vec<ListedSession>, RpcError> {
    let list: SessionList = parse(answer)?;
    Ok(list
        .sessions
        .into_iter()
        .filter(|s| {
            !(s.SecureNATMode_bool || s.LinkMode_bool || s.BridgeMode_bool || s.Layer3Mode_bool)
        })
        .map(|s| ListedSession {
            name: s.Name_str,
            user_name: s.Username_str,
            client_ip: s.ClientIP_ip.filter(|ip| !ip.is_unspecified()),
        })
        .collect())
}

/// One JSON-RPC call on its own connection; the body of a 200 answer.
async fn call(
    address: SocketAddr,
    hub: &SoftEtherHub,
    method: &str,
    params: serde_json::Value,
) -> Result<Bytes, RpcError> {
    let body =
        serde_json::json!({ "jsonrpc": "2.0", "id": "adgate", "method": method, "params": params });
    tokio::time::timeout(CALL_TIMEOUT, exchange(address, hub, body.to_string()))
        .await
        .map_err(|_| RpcError::Timeout)?
}

async fn exchange(
    address: SocketAddr,
    hub: &SoftEtherHub,
    body: String,
) -> Result<Bytes, RpcError> {
    let tcp = TcpStream::connect(address).await?;
    let connector = TlsConnector::from(Arc::clone(&hub.tls));
    let tls = connector
        .connect(ServerName::from(address.ip()), tcp)
        .await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    let driving = tokio::spawn(connection);
    let mut password = HeaderValue::from_bytes(hub.password.expose())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    password.set_sensitive(true);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/")
        .header(HOST, address.to_string())
        .header(CONTENT_TYPE, "application/json")
        .header("X-VPNADMIN-HUBNAME", hub.hub.as_str())
        .header("X-VPNADMIN-PASSWORD", password)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let answer = async {
        let response = sender.send_request(request).await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return Err(RpcError::PasswordRefused),
            status => return Err(RpcError::Status(status)),
        }
        Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(|body| body.to_bytes())
            .map_err(|_| RpcError::Body)
    }
    .await;
    driving.abort();
    answer
}

fn tls_config(certificate_sha256: [u8; 32]) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCertificate {
        sha256: certificate_sha256,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Trusts exactly the certificate whose SHA-256 is configured, whoever issued it: SoftEther
/// makes itself a self-signed one. The handshake signature is still verified, so only the
/// holder of that certificate's key passes.
#[derive(Debug)]
struct PinnedCertificate {
    sha256: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if bool::from(presented.ct_eq(&self.sha256)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate has SHA-256 {}, not server_certificate_sha256",
                hex::encode(presented)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use hyper::Response;
    use pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    use super::*;

    /// The lab server's answer (Debian's softether-vpnserver 5.01), trimmed to two entries:
    /// SecureNAT's own session and a user's tunnel through the OpenVPN-compatible listener.
    const ENUM_SESSION: &str = r#"{"result":{"SessionList":[
        {"BridgeMode_bool":false,"ClientIP_ip":"0.0.0.0","Layer3Mode_bool":false,
         "LinkMode_bool":false,"Name_str":"SID-SECURENAT-1","SecureNATMode_bool":true,
         "Username_str":"SecureNAT","CreatedTime_dt":"2026-12-02T14:10:58.861Z"},
        {"BridgeMode_bool":false,"ClientIP_ip":"10.99.3.2","Layer3Mode_bool":false,
         "LinkMode_bool":false,"Name_str":"SID-TOVPN-[OPENVPN_L3]-2","SecureNATMode_bool":false,
         "Username_str":"tovpn","CreatedTime_dt":"2026-12-02T14:11:02.968Z"}],
        "HubName_str":"DEFAULT"},"jsonrpc":"2.0","id":"1"}"#;

    fn error(code: u32) -> String {
        format!(
            r#"{{"error":{{"code":{code},"message":"Error code {code}: ..."}},"jsonrpc":"2.0","id":"1"}}"#
        )
    }

    #[test]
    fn a_users_session_is_listed_and_softethers_own_are_not() {
        let sessions = sessions_of(ENUM_SESSION.as_bytes()).unwrap();
        assert_eq!(
            sessions,
            [ListedSession {
                name: "SID-TOVPN-[OPENVPN_L3]-2".into(),
                user_name: "tovpn".into(),
                client_ip: Some("10.99.3.2".parse().unwrap()),
            }]
        );
        let error = sessions_of(error(8).as_bytes()).unwrap_err();
        assert!(matches!(error, RpcError::Server { code: 8, .. }), "{error}");
        assert!(sessions_of(b"<html>").is_err());
    }

    #[test]
    fn a_deleted_session_is_an_ack_an_unknown_one_a_nak_503_and_a_refusal_a_nak() {
        let deleted =
            r#"{"result":{"HubName_str":"DEFAULT","Name_str":"SID-X-1"},"jsonrpc":"2.0","id":"1"}"#;
        let answer = |text: &str| outcome(Ok(Bytes::from(text.to_owned())));
        assert_eq!(
            answer(deleted).unwrap(),
            DisconnectOutcome::Ack { error_cause: None }
        );
        assert_eq!(
            answer(&error(ERR_OBJECT_NOT_FOUND)).unwrap(),
            DisconnectOutcome::Nak {
                error_cause: Some(SESSION_CONTEXT_NOT_FOUND)
            }
        );
        // 52: ERR_NOT_ENOUGH_RIGHT (the hub's no_disconnect_session admin option).
        assert_eq!(
            answer(&error(52)).unwrap(),
            DisconnectOutcome::Nak { error_cause: None }
        );
        assert!(outcome(Err(RpcError::PasswordRefused)).is_err());
    }

    #[test]
    fn fingerprints_are_read_as_openssl_prints_them_and_bad_settings_refused() {
        let colons = "AB:".repeat(31) + "CD";
        assert_eq!(
            parse_fingerprint(&colons).map(|f| (f[0], f[31])),
            Some((0xab, 0xcd))
        );
        assert_eq!(parse_fingerprint(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_fingerprint("ab:cd"), None);
        assert_eq!(parse_fingerprint(&"zz".repeat(32)), None);

        let password = Arc::new(SharedSecret::new(b"hub-password".to_vec()));
        assert!(SoftEtherHub::new("DEFAULT".into(), password.clone(), [0; 32]).is_ok());
        let refused = |hub: &str, password| SoftEtherHub::new(hub.into(), password, [0; 32]).err();
        assert_eq!(
            refused("MY HUB", password.clone()),
            Some(UnusableSetting::Hub)
        );
        assert_eq!(refused("", password), Some(UnusableSetting::Hub));
        let broken = Arc::new(SharedSecret::new(b"pass\r\nX-Other: 1".to_vec()));
        assert_eq!(refused("DEFAULT", broken), Some(UnusableSetting::Password));
    }

    /// What the fake server saw of one request: its headers and JSON body.
    #[derive(Debug, Clone)]
    struct Seen {
        hub: String,
        password: String,
        body: serde_json::Value,
    }

    /// A SoftEther admin port over TLS with a fresh self-signed certificate, answering every
    /// request with `status` and `answer`; the SHA-256 of its certificate and what it saw.
    async fn fake_server(
        status: StatusCode,
        answer: &'static str,
    ) -> (SocketAddr, [u8; 32], Arc<Mutex<Vec<Seen>>>) {
        let certified =
            rcgen::generate_simple_self_signed(vec!["vpn.example.test".into()]).unwrap();
        let fingerprint: [u8; 32] = Sha256::digest(certified.cert.der()).into();
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let record = record.clone();
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let record = record.clone();
                    async move {
                        let header = |name| {
                            request
                                .headers()
                                .get(name)
                                .map_or(String::new(), |v: &HeaderValue| {
                                    v.to_str().unwrap().to_owned()
                                })
                        };
                        let (hub, password) =
                            (header("X-VPNADMIN-HUBNAME"), header("X-VPNADMIN-PASSWORD"));
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        record.lock().unwrap().push(Seen {
                            hub,
                            password,
                            body: serde_json::from_slice(&body).unwrap(),
                        });
                        let mut response = Response::new(Full::new(Bytes::from(answer)));
                        *response.status_mut() = status;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service),
                );
            }
        });
        (address, fingerprint, seen)
    }

    fn hub(fingerprint: [u8; 32]) -> SoftEtherHub {
        let password = Arc::new(SharedSecret::new(b"hub-password".to_vec()));
        SoftEtherHub::new("DEFAULT".into(), password, fingerprint).unwrap()
    }

    #[tokio::test]
    async fn the_pinned_server_is_asked_as_the_hubs_administrator() {
        let (address, fingerprint, seen) = fake_server(StatusCode::OK, ENUM_SESSION).await;
        let sessions = enum_sessions(address, &hub(fingerprint)).await.unwrap();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].hub, "DEFAULT");
        assert_eq!(seen[0].password, "hub-password");
        assert_eq!(seen[0].body["jsonrpc"], "2.0");
        assert_eq!(seen[0].body["method"], "EnumSession");
        assert_eq!(seen[0].body["params"]["HubName_str"], "DEFAULT");
    }

    #[tokio::test]
    async fn another_certificate_gets_no_password_and_a_refused_one_is_an_error() {
        let (address, fingerprint, seen) = fake_server(StatusCode::OK, ENUM_SESSION).await;
        let mut other = fingerprint;
        other[0] ^= 1;
        let error = enum_sessions(address, &hub(other)).await.unwrap_err();
        assert!(
            error.to_string().contains(&hex::encode(fingerprint)),
            "{error}"
        );
        assert!(
            seen.lock().unwrap().is_empty(),
            "no request after a bad certificate"
        );

        let (address, fingerprint, _) = fake_server(StatusCode::UNAUTHORIZED, "<html>").await;
        let error = disconnect(address, &hub(fingerprint), Some("SID-X-1"), b"x")
            .await
            .unwrap_err();
        assert!(matches!(error, RpcError::PasswordRefused), "{error}");
    }

    #[tokio::test]
    async fn without_a_session_name_every_session_of_the_user_is_deleted() {
        // The fake answers every call with the list, which DeleteSession reads as success.
        let (address, fingerprint, seen) = fake_server(StatusCode::OK, ENUM_SESSION).await;
        let outcome = disconnect(address, &hub(fingerprint), None, b"TOVPN")
            .await
            .unwrap();
        assert_eq!(outcome, DisconnectOutcome::Ack { error_cause: None });
        let seen = seen.lock().unwrap().clone();
        let calls: Vec<(&serde_json::Value, &serde_json::Value)> = seen
            .iter()
            .map(|s| (&s.body["method"], &s.body["params"]["Name_str"]))
            .collect();
        assert_eq!(
            calls,
            [
                (&"EnumSession".into(), &serde_json::Value::Null),
                (&"DeleteSession".into(), &"SID-TOVPN-[OPENVPN_L3]-2".into())
            ]
        );

        let (address, fingerprint, _) = fake_server(StatusCode::OK, ENUM_SESSION).await;
        let outcome = disconnect(address, &hub(fingerprint), None, b"alice")
            .await
            .unwrap();
        assert_eq!(
            outcome,
            DisconnectOutcome::Nak {
                error_cause: Some(SESSION_CONTEXT_NOT_FOUND)
            }
        );
    }
}
