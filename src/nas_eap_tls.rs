//! `adgate nas eap-tls` and `adgate nas bench-eap-tls`: the simulated VPN appliance relaying an
//! EAP-TLS conversation for adgate's own peer (rustls, in adgate-certs), the way a real NAS
//! relays its client's EAP (RFC 3579): EAP-Response/Identity first (or, with `--eap-start`,
//! EAP-Start and then the identity adgate asks for, §2.1), then each EAP-TLS Response with the
//! State of the last Access-Challenge, until Access-Accept or -Reject. On accept it unhides
//! the MS-MPPE keys and compares them with the MSK its peer derived; on reject it shows the TLS
//! alert adgate sent, if any.

use std::fmt;
use std::sync::Arc;

use adgate_certs::{peer_config, EapTlsPeer};
use adgate_radius::eap::eap_type;
use adgate_radius::mppe_keys::recover_mppe_keys;
use adgate_radius::{EapCode, EapPacket, RadiusClient, ResponseCode, SharedSecret};
use anyhow::{bail, Context};
use rustls::{AlertDescription, ClientConfig};

use crate::cli::EapTlsPeerArgs;

/// State (RFC 2865 §5.24) and EAP-Message (RFC 3579 §3.1).
const STATE: u8 = 24;
const EAP_MESSAGE: u8 = 79;
/// More round trips than any EAP-TLS handshake needs, even with small fragments.
const MAX_ROUND_TRIPS: usize = 64;

/// How one login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EapTlsOutcome {
    /// Access-Accept; whether its MS-MPPE keys equal the MSK the peer derived.
    Accept { keys_match: bool },
    /// Access-Reject, and the TLS alert adgate sent before it, if any.
    Reject { alert: Option<AlertDescription> },
}

impl EapTlsOutcome {
    pub fn is_accept_with_keys(self) -> bool {
        self == EapTlsOutcome::Accept { keys_match: true }
    }
}

impl fmt::Display for EapTlsOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accept { keys_match: true } => {
                f.write_str("Access-Accept, MPPE keys match the MSK")
            }
            Self::Accept { keys_match: false } => {
                f.write_str("Access-Accept, but MPPE keys missing or different from the MSK")
            }
            Self::Reject { alert: None } => f.write_str("Access-Reject"),
            Self::Reject { alert: Some(alert) } => {
                write!(f, "Access-Reject after TLS alert {alert:?}")
            }
        }
    }
}

/// What every login of a run shares: the peer's TLS configuration and the shared secret.
pub struct EapTlsLogin {
    config: Arc<ClientConfig>,
    server_name: String,
    secret: SharedSecret,
    eap_start: bool,
}

impl EapTlsLogin {
    pub fn new(peer: &EapTlsPeerArgs, secret: SharedSecret) -> anyhow::Result<Self> {
        let version = match peer.tls_version.as_str() {
            "1.2" => &rustls::version::TLS12,
            "1.3" => &rustls::version::TLS13,
            other => bail!("--tls-version must be 1.2 or 1.3, not {other}"),
        };
        let config = peer_config(
            &peer.ca_file,
            &peer.certificate_file,
            &peer.key_file,
            version,
        )?;
        Ok(Self {
            config,
            server_name: peer.server_name.clone(),
            secret,
            eap_start: peer.eap_start,
        })
    }

    /// One full EAP-TLS login as `user`.
    pub async fn run(&self, client: &RadiusClient, user: &str) -> anyhow::Result<EapTlsOutcome> {
        self.start(user)?.finish(self, client).await
    }

    /// A login as `user` before its first round trip, to be driven by
    /// [`EapTlsConversation::step`] (e.g. paused halfway, to hold it open).
    pub fn start(&self, user: &str) -> anyhow::Result<EapTlsConversation> {
        // EAP-Start is an EAP-Message without data.
        let eap = if self.eap_start {
            Vec::new()
        } else {
            EapPacket::new(EapCode::Response, 0, eap_type::IDENTITY, user.as_bytes()).to_bytes()
        };
        Ok(EapTlsConversation {
            peer: EapTlsPeer::new(self.config.clone(), &self.server_name)?,
            user: user.to_owned(),
            eap,
            state: None,
        })
    }
}

/// One EAP-TLS login in progress: the peer, and the EAP-Message and State to send next.
pub struct EapTlsConversation {
    peer: EapTlsPeer,
    user: String,
    eap: Vec<u8>,
    state: Option<Vec<u8>>,
}

impl EapTlsConversation {
    /// The rest of the login `login` started, to its outcome.
    pub async fn finish(
        mut self,
        login: &EapTlsLogin,
        client: &RadiusClient,
    ) -> anyhow::Result<EapTlsOutcome> {
        for _ in 0..MAX_ROUND_TRIPS {
            if let Some(outcome) = self.step(login, client).await? {
                return Ok(outcome);
            }
        }
        bail!("no decision after {MAX_ROUND_TRIPS} round trips")
    }

    /// One round trip of the login `login` started: the outcome once adgate decides, `None`
    /// after an Access-Challenge.
    pub async fn step(
        &mut self,
        login: &EapTlsLogin,
        client: &RadiusClient,
    ) -> anyhow::Result<Option<EapTlsOutcome>> {
        let user = self.user.as_bytes();
        let (response, request_authenticator) = client
            .eap(user, &self.eap, self.state.as_deref())
            .await
            .context("no valid answer from adgate")?;
        match response.code {
            ResponseCode::Reject => {
                let alert = self.peer.alert_received();
                Ok(Some(EapTlsOutcome::Reject { alert }))
            }
            ResponseCode::Accept => {
                let keys =
                    recover_mppe_keys(&login.secret, &request_authenticator, &response.attributes);
                let keys_match = match (keys, self.peer.msk()) {
                    (Some((recv, send)), Some(msk)) => msk.is_split_into(&recv, &send),
                    _ => false,
                };
                Ok(Some(EapTlsOutcome::Accept { keys_match }))
            }
            ResponseCode::Challenge => {
                let request = EapPacket::parse(&joined(&response.attributes, EAP_MESSAGE))
                    .context("Access-Challenge without a valid EAP-Message")?;
                let (answer_type, type_data) = match request.eap_type() {
                    Some(eap_type::IDENTITY) => (eap_type::IDENTITY, user.to_vec()),
                    Some(eap_type::TLS) => (eap_type::TLS, self.peer.respond(request.type_data())?),
                    other => bail!("adgate asked for EAP type {other:?}, not EAP-TLS"),
                };
                self.eap = EapPacket::new(
                    EapCode::Response,
                    request.identifier,
                    answer_type,
                    &type_data,
                )
                .to_bytes();
                self.state = Some(joined(&response.attributes, STATE));
                Ok(None)
            }
            // The client accepts only the codes that answer its request.
            ResponseCode::AccountingResponse => {
                bail!("adgate answered an Access-Request with an Accounting-Response")
            }
        }
    }
}

/// The values of every attribute of one type, concatenated in order.
fn joined(attributes: &[(u8, Vec<u8>)], wanted: u8) -> Vec<u8> {
    attributes
        .iter()
        .filter(|(attribute_type, _)| *attribute_type == wanted)
        .flat_map(|(_, value)| value.iter().copied())
        .collect()
}
