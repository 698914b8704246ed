//! What `[sessions]` and each client's `[clients.disconnect]` configure: how often live
//! sessions are re-checked, how the table forgets, where the control socket is, and where and
//! how a NAS is asked to end a session (RFC 5176, or a VPN server's own control interface).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{DisconnectProfile, SharedSecret};

use super::softether_rpc::SoftEtherHub;
use super::TableLimits;

/// `[sessions]`, with its defaults when the section is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Every live session's account is re-checked this often (AD change notifications come on
    /// top, sooner).
    pub recheck_interval: Duration,
    pub limits: TableLimits,
    /// The Unix socket `adgate sessions` talks to.
    pub control_socket: PathBuf,
    /// Besides root and adgate's own user, members of this group may use the control socket.
    pub control_group: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            recheck_interval: Duration::from_secs(5),
            limits: TableLimits::default(),
            control_socket: PathBuf::from("/run/adgate/control.sock"),
            control_group: "adgate".to_owned(),
        }
    }
}

/// Where and how one NAS is asked to end a session: each kind is one
/// `[clients.disconnect] kind`.
#[derive(Debug, Clone)]
pub enum DisconnectDriver {
    /// An RFC 5176 Disconnect-Request (`kind = "rfc5176"`, the default).
    Rfc5176 {
        address: SocketAddr,
        /// `[clients.disconnect] secret_file`, else the client's own secret.
        secret: Arc<SharedSecret>,
        profile: DisconnectProfile,
    },
    /// `kill <common name>` on OpenVPN's management interface (`kind = "openvpn_management"`),
    /// with its password if it has one (`password_file`).
    OpenVpnManagement {
        address: SocketAddr,
        password: Option<Arc<SharedSecret>>,
    },
    /// `occtl disconnect user <name>` run on ocserv's control socket (`kind = "ocserv_occtl"`):
    /// `program` (occtl, or an admin's wrapper) and the socket (`socket`, else occtl's default).
    OcservOcctl {
        program: PathBuf,
        socket: Option<PathBuf>,
    },
    /// `DeleteSession` on a SoftEther VPN Server's JSON-RPC admin API (`kind = "softether"`),
    /// whose `EnumSession` is also how adgate learns the hub's sessions: SoftEther sends no
    /// accounting.
    SoftEther {
        address: SocketAddr,
        hub: SoftEtherHub,
    },
}

impl DisconnectDriver {
    /// The address the request goes to, for the trail; `None` for a local program.
    pub fn address(&self) -> Option<SocketAddr> {
        match self {
            DisconnectDriver::Rfc5176 { address, .. }
            | DisconnectDriver::OpenVpnManagement { address, .. }
            | DisconnectDriver::SoftEther { address, .. } => Some(*address),
            DisconnectDriver::OcservOcctl { .. } => None,
        }
    }

    /// Whether adgate learns this NAS's sessions from its accounting; SoftEther's it lists.
    pub fn needs_accounting(&self) -> bool {
        !matches!(self, DisconnectDriver::SoftEther { .. })
    }
}

/// Every client's `[clients.disconnect]`, by client name; a client without one is absent.
#[derive(Debug, Clone, Default)]
pub struct DisconnectTargets(pub HashMap<String, DisconnectDriver>);

impl DisconnectTargets {
    pub fn get(&self, client: &str) -> Option<&DisconnectDriver> {
        self.0.get(client)
    }

    /// Whether some client's sessions are learnt from its accounting (see
    /// `DisconnectDriver::needs_accounting`).
    pub fn need_accounting(&self) -> bool {
        self.0.values().any(DisconnectDriver::needs_accounting)
    }
}
