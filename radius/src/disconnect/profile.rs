//! Which attributes name the session to end. RFC 5176 §3 lets a
//! Disconnect-Request identify a session by many attributes, and a NAS must
//! NAK one whose attributes match no session; NASes differ in what they
//! compare, and an attribute one does not know may draw a NAK 401. So each
//! NAS gets a profile: the smallest set of what it matches on, filled in
//! from what the session's accounting said.

use std::net::{IpAddr, Ipv4Addr};

use crate::dictionary::{
    ACCT_SESSION_ID, FRAMED_IP_ADDRESS, NAS_IDENTIFIER, NAS_IPV6_ADDRESS, NAS_IP_ADDRESS, USER_NAME,
};
use crate::packet::MAX_ATTRIBUTE_VALUE_LEN;

use super::outcome::DisconnectError;

/// A live session as its accounting described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdentification {
    /// User-Name exactly as the NAS sent it in accounting (RFC 2865 §5.1).
    pub user_name: Vec<u8>,
    /// Acct-Session-Id (RFC 2866 §5.5).
    pub acct_session_id: Option<String>,
    /// NAS-IP-Address (RFC 2865 §5.4) for IPv4, NAS-IPv6-Address (RFC 3162
    /// §2.1) for IPv6.
    pub nas_ip_address: Option<IpAddr>,
    /// NAS-Identifier (RFC 2865 §5.32).
    pub nas_identifier: Option<String>,
    /// Framed-IP-Address (RFC 2865 §5.8): the address the VPN gave the user.
    pub framed_ip_address: Option<Ipv4Addr>,
    /// Calling-Station-Id (RFC 2865 §5.31). No profile sends it yet:
    /// strongSwan reports it with the client's changing port.
    pub calling_station_id: Option<String>,
}

/// What one NAS matches a Disconnect-Request against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectProfile {
    /// RFC 5176 §3: User-Name, Acct-Session-Id, NAS identification
    /// (NAS-IP-Address/NAS-IPv6-Address and NAS-Identifier as known), and
    /// Framed-IP-Address when known.
    Default,
    /// strongSwan's eap-radius DAE matches User-Name only (and may NAK
    /// unknown attributes).
    UserName,
    /// FortiGate: User-Name + Framed-IP-Address.
    UserNameFramedIp,
}

impl DisconnectProfile {
    /// Every profile, for configuration errors that list the choices.
    pub const ALL: [Self; 3] = [Self::Default, Self::UserName, Self::UserNameFramedIp];

    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::UserName => "user_name",
            Self::UserNameFramedIp => "user_name_framed_ip",
        }
    }

    /// The profile a configuration name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|profile| profile.name() == name)
    }

    /// The attributes that identify `session` to a NAS of this profile, in
    /// the order they are sent.
    pub(crate) fn identification(
        self,
        session: &SessionIdentification,
    ) -> Result<Vec<IdentificationAttribute>, DisconnectError> {
        let user_name = IdentificationAttribute::new(USER_NAME, "User-Name", &session.user_name)?;
        let framed_ip_address = session.framed_ip_address.map(|address| {
            IdentificationAttribute::new(FRAMED_IP_ADDRESS, "Framed-IP-Address", &address.octets())
        });
        match self {
            Self::UserName => Ok(vec![user_name]),
            Self::UserNameFramedIp => {
                let Some(framed_ip_address) = framed_ip_address else {
                    return Err(DisconnectError::MissingAttribute {
                        profile: self.name(),
                        attribute: "Framed-IP-Address",
                    });
                };
                Ok(vec![user_name, framed_ip_address?])
            }
            Self::Default => {
                let acct_session_id = session.acct_session_id.as_ref().map(|id| {
                    IdentificationAttribute::new(ACCT_SESSION_ID, "Acct-Session-Id", id.as_bytes())
                });
                let nas_ip_address = session.nas_ip_address.map(|address| match address {
                    IpAddr::V4(v4) => {
                        IdentificationAttribute::new(NAS_IP_ADDRESS, "NAS-IP-Address", &v4.octets())
                    }
                    IpAddr::V6(v6) => IdentificationAttribute::new(
                        NAS_IPV6_ADDRESS,
                        "NAS-IPv6-Address",
                        &v6.octets(),
                    ),
                });
                let nas_identifier = session.nas_identifier.as_ref().map(|identifier| {
                    IdentificationAttribute::new(
                        NAS_IDENTIFIER,
                        "NAS-Identifier",
                        identifier.as_bytes(),
                    )
                });
                [
                    Some(Ok(user_name)),
                    acct_session_id,
                    nas_ip_address,
                    nas_identifier,
                    framed_ip_address,
                ]
                .into_iter()
                .flatten()
                .collect()
            }
        }
    }
}

/// One identification attribute, its value checked against RFC 2865 §5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdentificationAttribute {
    pub(crate) attribute_type: u8,
    /// The attribute's name, for errors.
    pub(crate) name: &'static str,
    pub(crate) value: Vec<u8>,
}

impl IdentificationAttribute {
    /// Refuses an empty value and one over 253 octets (RFC 2865 §5: "omit
    /// the entire attribute instead" of sending an empty one): either would
    /// name another session than the one accounting reported, or none.
    fn new(attribute_type: u8, name: &'static str, value: &[u8]) -> Result<Self, DisconnectError> {
        if !(1..=MAX_ATTRIBUTE_VALUE_LEN).contains(&value.len()) {
            return Err(DisconnectError::InvalidAttribute {
                attribute: name,
                length: value.len(),
            });
        }
        Ok(Self {
            attribute_type,
            name,
            value: value.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_session() -> SessionIdentification {
        SessionIdentification {
            user_name: b"alice@example.test".to_vec(),
            acct_session_id: Some("1700000000-7".to_owned()),
            nas_ip_address: Some(IpAddr::from([192, 0, 2, 10])),
            nas_identifier: Some("vpn-gw".to_owned()),
            framed_ip_address: Some(Ipv4Addr::new(10, 8, 0, 5)),
            calling_station_id: Some("198.51.100.7[4500]".to_owned()),
        }
    }

    fn types(profile: DisconnectProfile, session: &SessionIdentification) -> Vec<u8> {
        profile
            .identification(session)
            .unwrap()
            .iter()
            .map(|attribute| attribute.attribute_type)
            .collect()
    }

    #[test]
    fn names_round_trip_and_are_distinct() {
        for profile in DisconnectProfile::ALL {
            assert_eq!(DisconnectProfile::from_name(profile.name()), Some(profile));
        }
        assert_eq!(DisconnectProfile::from_name("User_Name"), None);
        assert_eq!(DisconnectProfile::from_name(""), None);
    }

    #[test]
    fn each_profile_sends_exactly_its_attributes() {
        let session = full_session();
        assert_eq!(
            types(DisconnectProfile::Default, &session),
            [
                USER_NAME,
                ACCT_SESSION_ID,
                NAS_IP_ADDRESS,
                NAS_IDENTIFIER,
                FRAMED_IP_ADDRESS
            ]
        );
        assert_eq!(types(DisconnectProfile::UserName, &session), [USER_NAME]);
        assert_eq!(
            types(DisconnectProfile::UserNameFramedIp, &session),
            [USER_NAME, FRAMED_IP_ADDRESS]
        );
        let values: Vec<Vec<u8>> = DisconnectProfile::Default
            .identification(&session)
            .unwrap()
            .into_iter()
            .map(|attribute| attribute.value)
            .collect();
        assert_eq!(
            values,
            [
                b"alice@example.test".to_vec(),
                b"1700000000-7".to_vec(),
                vec![192, 0, 2, 10],
                b"vpn-gw".to_vec(),
                vec![10, 8, 0, 5],
            ]
        );
    }

    #[test]
    fn the_default_profile_sends_what_is_known() {
        let session = SessionIdentification {
            acct_session_id: None,
            nas_ip_address: Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])),
            nas_identifier: None,
            framed_ip_address: None,
            ..full_session()
        };
        let attributes = DisconnectProfile::Default.identification(&session).unwrap();
        let types: Vec<u8> = attributes.iter().map(|a| a.attribute_type).collect();
        assert_eq!(types, [USER_NAME, NAS_IPV6_ADDRESS]);
        assert_eq!(attributes[1].value.len(), 16);
    }

    #[test]
    fn the_framed_ip_profile_needs_a_framed_ip_address() {
        let session = SessionIdentification {
            framed_ip_address: None,
            ..full_session()
        };
        let error = DisconnectProfile::UserNameFramedIp
            .identification(&session)
            .unwrap_err();
        assert!(
            matches!(
                error,
                DisconnectError::MissingAttribute {
                    profile: "user_name_framed_ip",
                    attribute: "Framed-IP-Address"
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn values_rfc_2865_cannot_carry_are_refused_not_truncated() {
        let too_long_name = SessionIdentification {
            user_name: vec![b'a'; 254],
            ..full_session()
        };
        let empty_session_id = SessionIdentification {
            acct_session_id: Some(String::new()),
            ..full_session()
        };
        let too_long_nas_identifier = SessionIdentification {
            nas_identifier: Some("n".repeat(300)),
            ..full_session()
        };
        let cases = [
            (DisconnectProfile::UserName, too_long_name, "User-Name", 254),
            (
                DisconnectProfile::Default,
                empty_session_id,
                "Acct-Session-Id",
                0,
            ),
            (
                DisconnectProfile::Default,
                too_long_nas_identifier,
                "NAS-Identifier",
                300,
            ),
        ];
        for (profile, session, expected_attribute, expected_length) in cases {
            match profile.identification(&session) {
                Err(DisconnectError::InvalidAttribute { attribute, length }) => {
                    assert_eq!((attribute, length), (expected_attribute, expected_length));
                }
                other => panic!("{expected_attribute}: {other:?}"),
            }
        }
        let longest = SessionIdentification {
            user_name: vec![b'a'; 253],
            ..full_session()
        };
        assert!(DisconnectProfile::UserName.identification(&longest).is_ok());
    }
}
