//! The Master Session Key an EAP-TLS conversation yields (RFC 5216 §2.3 for TLS 1.2,
//! RFC 9190 §2.3 for TLS 1.3), exported from rustls, and the MS-MPPE keys cut from it for
//! the NAS (RFC 2548; the split is the one RFC 5216 §2.3 references and FreeRADIUS uses:
//! Recv-Key = MSK[0..32], Send-Key = MSK[32..64]).

use std::fmt;

use rustls::{ConnectionCommon, ProtocolVersion};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::rejection::Rejection;

/// RFC 5216 §2.3: Key_Material = TLS-PRF-128(master secret, "client EAP encryption",
/// client.random || server.random), the RFC 5705 exporter with no context.
const TLS12_LABEL: &[u8] = b"client EAP encryption";
/// RFC 9190 §2.3: TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", Type-Code, 128).
const TLS13_LABEL: &[u8] = b"EXPORTER_EAP_TLS_Key_Material";
/// The EAP-TLS Type-Code, the TLS 1.3 exporter context (RFC 9190 §2.3).
const EAP_TLS_TYPE_CODE: u8 = 13;
/// Key_Material is 128 octets: MSK then EMSK. The TLS 1.3 exporter mixes the length in, so
/// exporting only 64 octets would give a different MSK.
const KEY_MATERIAL_LEN: usize = 128;
const MSK_LEN: usize = 64;

/// The 64-octet MSK, wiped on drop and never printed.
pub struct MasterSessionKey(Zeroizing<[u8; MSK_LEN]>);

impl MasterSessionKey {
    /// Exports the MSK of a finished handshake, by the rule of its TLS version.
    pub(crate) fn export<Data>(connection: &ConnectionCommon<Data>) -> Result<Self, Rejection> {
        let (label, context) = match connection.protocol_version() {
            Some(ProtocolVersion::TLSv1_2) => (TLS12_LABEL, None),
            Some(ProtocolVersion::TLSv1_3) => (TLS13_LABEL, Some(&[EAP_TLS_TYPE_CODE][..])),
            _ => return Err(Rejection::TlsHandshakeFailed),
        };
        let mut key_material = Zeroizing::new([0u8; KEY_MATERIAL_LEN]);
        connection
            .export_keying_material(&mut key_material[..], label, context)
            .map_err(|_| Rejection::TlsHandshakeFailed)?;
        let key_material: &[u8; KEY_MATERIAL_LEN] = &key_material;
        let mut msk = Zeroizing::new([0u8; MSK_LEN]);
        msk.copy_from_slice(&key_material[..MSK_LEN]);
        Ok(Self(msk))
    }

    /// MS-MPPE-Recv-Key: the first 32 octets.
    pub fn mppe_recv_key(&self) -> &[u8] {
        let msk: &[u8; MSK_LEN] = &self.0;
        &msk[..32]
    }

    /// MS-MPPE-Send-Key: the next 32 octets.
    pub fn mppe_send_key(&self) -> &[u8] {
        let msk: &[u8; MSK_LEN] = &self.0;
        &msk[32..]
    }

    /// Whether `recv` and `send` are this MSK's MPPE keys, in constant time (the NAS
    /// simulator's check of what adgate sent).
    pub fn is_split_into(&self, recv: &[u8], send: &[u8]) -> bool {
        let recv_matches = self.mppe_recv_key().ct_eq(recv);
        let send_matches = self.mppe_send_key().ct_eq(send);
        (recv_matches & send_matches).into()
    }

    /// Whether two keys are equal, in constant time (for the peer's own check).
    pub fn matches(&self, other: &MasterSessionKey) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl fmt::Debug for MasterSessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSessionKey(<redacted>)")
    }
}
