//! The NASes allowed to send requests, as `[[clients]]` configures them: what the UDP client
//! table and RadSec's trusted clients are built from.

use adgate_radius::{MessageAuthenticatorRule, SharedSecret};
use ipnet::IpNet;

/// One NAS (VPN appliance) allowed to send requests.
#[derive(Debug)]
pub struct ClientSettings {
    pub name: String,
    pub address: IpNet,
    pub secret: SharedSecret,
    pub require_message_authenticator: MessageAuthenticatorRule,
    pub limit_proxy_state: bool,
    pub max_in_flight: usize,
    /// The DNS name in the subjectAltName of the certificate this client presents over RadSec.
    pub radsec_certificate_name: Option<pki_types::DnsName<'static>>,
    /// How it is asked to end a session (`[clients.disconnect]`), if it can be.
    pub disconnect: Option<crate::sessions::DisconnectDriver>,
}
