//! The gate every datagram passes before the handler sees it, in the order
//! that spends the least on untrusted input: known client, then packet
//! structure, then packet code, then the authenticators, then attributes.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::accounting::{AccountingRequest, InvalidAccountingRequest};
use crate::clients::NasClient;
use crate::dictionary::{
    ACCESS_REQUEST, ACCOUNTING_REQUEST, EAP_MESSAGE, PROXY_STATE, RESPONSE_CODES, STATUS_SERVER,
    USER_NAME,
};
use crate::handler::{Discard, DiscardReason};
use crate::message_authenticator;
use crate::misconfiguration::Misconfiguration;
use crate::packet::{MalformedPacket, Packet};
use crate::request::{AccessRequest, InvalidAccessRequest};
use crate::request_authenticator;
use crate::response::ResponseContext;
use crate::response_cache::RequestKey;
use crate::server::Service;

/// A request ready for the handler, and what its response will need.
#[derive(Debug)]
pub(crate) enum Received {
    Access {
        request: AccessRequest,
        response: ResponseContext,
        key: RequestKey,
    },
    Accounting {
        request: AccountingRequest,
        response: ResponseContext,
        key: RequestKey,
    },
    /// Status-Server (RFC 5997): answered by the server itself, never
    /// cached (§3: it is idempotent and cheap to answer again).
    StatusServer { response: ResponseContext },
}

/// A datagram to drop, and what was wrong with it in detail, for the log.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) discard: Discard,
    pub(crate) malformation: Option<MalformedPacket>,
    /// What the appliance's configuration gets wrong, when the discard points to it.
    pub(crate) misconfiguration: Option<Misconfiguration>,
}

/// Admits or refuses one datagram from `source`, whose client (if any) the
/// server has already looked up.
pub(crate) fn receive(
    datagram: &[u8],
    source: SocketAddr,
    client: Option<Arc<NasClient>>,
    service: Service,
) -> Result<Received, Refusal> {
    // RFC 2865 §3: requests from unknown clients are silently discarded;
    // nothing in them is looked at.
    let Some(client) = client else {
        return Err(Refusal {
            discard: Discard {
                source,
                client: None,
                identifier: None,
                user_name: None,
                reason: DiscardReason::UnknownClient,
            },
            malformation: None,
            misconfiguration: Some(Misconfiguration::UnknownSource),
        });
    };
    let packet = match Packet::parse(datagram) {
        Ok(packet) => packet,
        Err(malformation) => {
            return Err(Refusal {
                discard: Discard {
                    source,
                    client: Some(client.name.clone()),
                    identifier: None,
                    user_name: None,
                    reason: DiscardReason::Malformed,
                },
                malformation: Some(malformation),
                misconfiguration: None,
            });
        }
    };
    let refuse = |reason| refusal(&packet, &client, source, reason, None);
    match (packet.code(), service) {
        (ACCESS_REQUEST, Service::Authentication) => access_request(&packet, client, source),
        (ACCOUNTING_REQUEST, Service::Accounting) => accounting_request(&packet, client, source),
        (STATUS_SERVER, _) => status_server(&packet, client, source),
        (code, _) if RESPONSE_CODES.contains(&code) => {
            Err(refuse(DiscardReason::UnexpectedResponse))
        }
        _ => Err(refuse(DiscardReason::UnsupportedCode)),
    }
}

/// Checks a present Message-Authenticator before anything else in the
/// packet is trusted (RFC 3579 §3.2), and reports whether there was one.
/// `authenticator` is what stands in the Authenticator field while it is
/// computed: the Request Authenticator, or zeros for an Accounting-Request.
fn check_message_authenticator(
    packet: &Packet<'_>,
    client: &NasClient,
    source: SocketAddr,
    authenticator: &[u8; 16],
) -> Result<bool, Refusal> {
    let found = message_authenticator::find(packet).map_err(|malformation| {
        refusal(
            packet,
            client,
            source,
            DiscardReason::Malformed,
            Some(malformation),
        )
    })?;
    match found {
        Some(signature)
            if !message_authenticator::verify(
                &client.secret,
                packet,
                &signature,
                authenticator,
            ) =>
        {
            Err(refusal(
                packet,
                client,
                source,
                DiscardReason::BadMessageAuthenticator,
                None,
            ))
        }
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

fn access_request(
    packet: &Packet<'_>,
    client: Arc<NasClient>,
    source: SocketAddr,
) -> Result<Received, Refusal> {
    let refuse = |reason, malformation| refusal(packet, &client, source, reason, malformation);
    let signed = check_message_authenticator(packet, &client, source, packet.authenticator())?;
    if signed {
        client.saw_message_authenticator();
    } else if client.requires_message_authenticator() || packet.contains(EAP_MESSAGE) {
        // RFC 3579 §3.3: an Access-Request with EAP-Message and no
        // Message-Authenticator MUST be silently discarded.
        return Err(refuse(DiscardReason::MissingMessageAuthenticator, None));
    } else if client.limit_proxy_state && packet.contains(PROXY_STATE) {
        // BlastRADIUS hides its collision block in a Proxy-State of an
        // unsigned request; a NAS talking to us directly sends none.
        return Err(refuse(
            DiscardReason::ProxyStateWithoutMessageAuthenticator,
            None,
        ));
    }
    let request =
        AccessRequest::decode(packet, Arc::clone(&client), source, signed).map_err(|invalid| {
            match invalid {
                InvalidAccessRequest::Malformed(malformation) => {
                    refuse(DiscardReason::Malformed, Some(malformation))
                }
                InvalidAccessRequest::UndecodablePassword => {
                    refuse(DiscardReason::BadRequestAuthenticator, None)
                }
                InvalidAccessRequest::MissingNasIdentification => {
                    refuse(DiscardReason::MissingAttribute, None)
                }
                InvalidAccessRequest::ConflictingCredentials => {
                    refuse(DiscardReason::ConflictingCredentials, None)
                }
                InvalidAccessRequest::MalformedEap(_) => refuse(DiscardReason::Malformed, None),
            }
        })?;
    Ok(Received::Access {
        request,
        response: ResponseContext::new(packet, client),
        key: RequestKey::new(source, packet),
    })
}

fn accounting_request(
    packet: &Packet<'_>,
    client: Arc<NasClient>,
    source: SocketAddr,
) -> Result<Received, Refusal> {
    let refuse = |reason, malformation| refusal(packet, &client, source, reason, malformation);
    // RFC 2866 §3: the Request Authenticator is a signature; nothing else
    // authenticates an accounting record.
    if !request_authenticator::verify(&client.secret, packet) {
        return Err(refuse(DiscardReason::BadRequestAuthenticator, None));
    }
    // A Message-Authenticator, if any, is computed with the Authenticator
    // field zeroed, as for every request whose Authenticator is itself a
    // signature (RFC 5176 §3.5; FreeRADIUS does the same).
    check_message_authenticator(packet, &client, source, &[0; 16])?;
    let request =
        AccountingRequest::decode(packet, Arc::clone(&client), source).map_err(|invalid| {
            match invalid {
                InvalidAccountingRequest::Malformed(malformation) => {
                    refuse(DiscardReason::Malformed, Some(malformation))
                }
                InvalidAccountingRequest::MissingAttribute => {
                    refuse(DiscardReason::MissingAttribute, None)
                }
            }
        })?;
    Ok(Received::Accounting {
        request,
        response: ResponseContext::new(packet, client),
        key: RequestKey::new(source, packet),
    })
}

/// RFC 5997 §3: Status-Server without a valid Message-Authenticator is
/// silently discarded, whatever the client's settings.
fn status_server(
    packet: &Packet<'_>,
    client: Arc<NasClient>,
    source: SocketAddr,
) -> Result<Received, Refusal> {
    if !check_message_authenticator(packet, &client, source, packet.authenticator())? {
        return Err(refusal(
            packet,
            &client,
            source,
            DiscardReason::MissingMessageAuthenticator,
            None,
        ));
    }
    Ok(Received::StatusServer {
        response: ResponseContext::new(packet, client),
    })
}

fn refusal(
    packet: &Packet<'_>,
    client: &NasClient,
    source: SocketAddr,
    reason: DiscardReason,
    malformation: Option<MalformedPacket>,
) -> Refusal {
    Refusal {
        discard: Discard {
            source,
            client: Some(client.name.clone()),
            identifier: Some(packet.identifier()),
            user_name: packet.values(USER_NAME).next().map(<[u8]>::to_vec),
            reason,
        },
        malformation,
        misconfiguration: Misconfiguration::of(reason, client, packet),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{ClientState, ClientTable, MessageAuthenticatorRule};
    use crate::dictionary::{MESSAGE_AUTHENTICATOR, USER_PASSWORD};
    use crate::packet::{overwrite, PacketWriter, MAX_PACKET_LEN};
    use crate::request::Credential;
    use crate::secret::SharedSecret;
    use crate::test_vectors::{REQUEST_WITH_MESSAGE_AUTHENTICATOR, RFC2865_7_1_REQUEST, SECRET};

    fn table(require_message_authenticator: bool) -> ClientTable {
        table_with(if require_message_authenticator {
            MessageAuthenticatorRule::Always
        } else {
            MessageAuthenticatorRule::Auto
        })
    }

    fn from_nas() -> SocketAddr {
        "192.168.1.16:1024".parse().unwrap()
    }

    /// Receives on the authentication port, looking the client up as the
    /// server does.
    fn admit(
        datagram: &[u8],
        source: SocketAddr,
        clients: &ClientTable,
    ) -> Result<Received, Refusal> {
        receive(
            datagram,
            source,
            clients.find(source.ip()),
            Service::Authentication,
        )
    }

    fn access(received: Received) -> AccessRequest {
        match received {
            Received::Access { request, .. } => request,
            other => panic!("expected an Access-Request, got {other:?}"),
        }
    }

    fn reason(datagram: &[u8], clients: &ClientTable) -> DiscardReason {
        admit(datagram, from_nas(), clients)
            .unwrap_err()
            .discard
            .reason
    }

    #[test]
    fn admits_the_rfc_2865_example_when_not_requiring_a_message_authenticator() {
        let request = access(admit(&RFC2865_7_1_REQUEST, from_nas(), &table(false)).unwrap());
        assert!(matches!(request.credential, Credential::Pap(_)));
        assert!(!request.message_authenticator);
    }

    #[test]
    fn admits_a_valid_message_authenticator() {
        let request = access(
            admit(
                &REQUEST_WITH_MESSAGE_AUTHENTICATOR,
                from_nas(),
                &table(true),
            )
            .unwrap(),
        );
        assert!(request.message_authenticator);
        assert_eq!(request.client.name, "vpn");
    }

    #[test]
    fn unknown_sources_are_refused_without_parsing() {
        let refusal = admit(b"\x01", "192.0.2.1:1812".parse().unwrap(), &table(false)).unwrap_err();
        assert_eq!(refusal.discard.reason, DiscardReason::UnknownClient);
        assert_eq!(refusal.discard.client, None);
        assert_eq!(refusal.malformation, None);
    }

    #[test]
    fn message_authenticator_policy() {
        assert_eq!(
            reason(&RFC2865_7_1_REQUEST, &table(true)),
            DiscardReason::MissingMessageAuthenticator
        );
        let mut forged = REQUEST_WITH_MESSAGE_AUTHENTICATOR;
        forged[60] ^= 0xff;
        for require in [false, true] {
            assert_eq!(
                reason(&forged, &table(require)),
                DiscardReason::BadMessageAuthenticator
            );
        }
        let mut tampered = REQUEST_WITH_MESSAGE_AUTHENTICATOR;
        tampered[22] = b'N'; // "nemo" -> "Nemo"
        let refusal = admit(&tampered, from_nas(), &table(false)).unwrap_err();
        assert_eq!(
            refusal.discard.reason,
            DiscardReason::BadMessageAuthenticator
        );
        assert_eq!(refusal.discard.user_name.as_deref(), Some(&b"Nemo"[..]));
        assert_eq!(refusal.discard.identifier, Some(0));
    }

    fn table_with(rule: MessageAuthenticatorRule) -> ClientTable {
        let client = Arc::new(NasClient {
            name: "vpn".to_owned(),
            secret: SharedSecret::new(SECRET.to_vec()),
            require_message_authenticator: rule,
            limit_proxy_state: true,
            max_in_flight: 1,
            state: ClientState::default(),
        });
        ClientTable::new(vec![("192.168.1.0/24".parse().unwrap(), client)])
    }

    /// The RFC 2865 §7.1 example with a Proxy-State appended: unsigned, as a proxy that does
    /// not sign would send it.
    fn unsigned_with_proxy_state() -> Vec<u8> {
        let mut request = RFC2865_7_1_REQUEST.to_vec();
        request.extend_from_slice(&[PROXY_STATE, 6, b'p', b'r', b'x', b'y']);
        let length = u16::try_from(request.len()).unwrap();
        overwrite(&mut request, 2, &length.to_be_bytes());
        request
    }

    fn misconfiguration(datagram: &[u8], clients: &ClientTable) -> Option<Misconfiguration> {
        admit(datagram, from_nas(), clients)
            .unwrap_err()
            .misconfiguration
    }

    #[test]
    fn auto_admits_an_unsigned_nas_until_it_has_signed() {
        let clients = table_with(MessageAuthenticatorRule::Auto);
        assert!(admit(&RFC2865_7_1_REQUEST, from_nas(), &clients).is_ok());
        assert!(admit(&REQUEST_WITH_MESSAGE_AUTHENTICATOR, from_nas(), &clients).is_ok());
        assert_eq!(
            reason(&RFC2865_7_1_REQUEST, &clients),
            DiscardReason::MissingMessageAuthenticator
        );
        assert_eq!(
            misconfiguration(&RFC2865_7_1_REQUEST, &clients),
            Some(Misconfiguration::UnsignedAfterSigning)
        );
    }

    #[test]
    fn never_admits_unsigned_requests_even_after_a_signed_one() {
        let clients = table_with(MessageAuthenticatorRule::Never);
        assert!(admit(&REQUEST_WITH_MESSAGE_AUTHENTICATOR, from_nas(), &clients).is_ok());
        assert!(admit(&RFC2865_7_1_REQUEST, from_nas(), &clients).is_ok());
    }

    #[test]
    fn always_discards_unsigned_requests_and_names_the_cause() {
        let clients = table_with(MessageAuthenticatorRule::Always);
        assert_eq!(
            misconfiguration(&RFC2865_7_1_REQUEST, &clients),
            Some(Misconfiguration::UnsignedWhileRequired)
        );
    }

    #[test]
    fn unsigned_proxy_state_is_discarded_under_every_rule_that_admits_unsigned_requests() {
        for rule in [
            MessageAuthenticatorRule::Auto,
            MessageAuthenticatorRule::Never,
        ] {
            let clients = table_with(rule);
            assert_eq!(
                reason(&unsigned_with_proxy_state(), &clients),
                DiscardReason::ProxyStateWithoutMessageAuthenticator,
                "{rule:?}"
            );
            assert_eq!(
                misconfiguration(&unsigned_with_proxy_state(), &clients),
                Some(Misconfiguration::UnsignedProxyState)
            );
        }
        let client = Arc::new(NasClient {
            name: "softether".to_owned(),
            secret: SharedSecret::new(SECRET.to_vec()),
            require_message_authenticator: MessageAuthenticatorRule::Never,
            limit_proxy_state: false,
            max_in_flight: 1,
            state: ClientState::default(),
        });
        let exposed = ClientTable::new(vec![("192.168.1.0/24".parse().unwrap(), client)]);
        assert!(admit(&unsigned_with_proxy_state(), from_nas(), &exposed).is_ok());
    }

    #[test]
    fn a_wrong_secret_and_an_unknown_source_are_misconfigurations() {
        let mut forged = REQUEST_WITH_MESSAGE_AUTHENTICATOR;
        forged[60] ^= 0xff;
        assert_eq!(
            misconfiguration(&forged, &table(false)),
            Some(Misconfiguration::WrongSecret)
        );
        let refusal = admit(b"\x01", "192.0.2.1:1812".parse().unwrap(), &table(false)).unwrap_err();
        assert_eq!(
            refusal.misconfiguration,
            Some(Misconfiguration::UnknownSource)
        );
    }

    #[test]
    fn eap_without_message_authenticator_is_dropped_even_when_not_required() {
        let mut writer = PacketWriter::new(ACCESS_REQUEST, 3, &[7; 16]);
        writer.push(EAP_MESSAGE, &[2, 0, 0, 6, 1, b'a']).unwrap();
        let eap = writer.into_bytes();
        assert_eq!(
            reason(&eap, &table(false)),
            DiscardReason::MissingMessageAuthenticator
        );
        assert_eq!(
            misconfiguration(&eap, &table(false)),
            Some(Misconfiguration::UnsignedEap)
        );
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        let mut accounting = RFC2865_7_1_REQUEST;
        accounting[0] = 4;
        assert_eq!(
            reason(&accounting, &table(false)),
            DiscardReason::UnsupportedCode
        );

        let mut doubled = REQUEST_WITH_MESSAGE_AUTHENTICATOR.to_vec();
        doubled.extend_from_slice(&REQUEST_WITH_MESSAGE_AUTHENTICATOR[56..]);
        doubled[3] = 92;
        let refusal = admit(&doubled, from_nas(), &table(false)).unwrap_err();
        assert_eq!(refusal.discard.reason, DiscardReason::Malformed);
        assert_eq!(
            refusal.malformation,
            Some(MalformedPacket::RepeatedAttribute(MESSAGE_AUTHENTICATOR))
        );

        let mut writer = PacketWriter::new(ACCESS_REQUEST, 3, &[7; 16]);
        writer.push(USER_PASSWORD, &[0; 20]).unwrap();
        let bad_password = writer.into_bytes();
        assert_eq!(
            reason(&bad_password, &table(false)),
            DiscardReason::BadRequestAuthenticator
        );
    }

    #[test]
    fn malformed_datagrams_never_reach_the_handler() {
        let mut oversized = RFC2865_7_1_REQUEST.to_vec();
        oversized.resize(MAX_PACKET_LEN + 1, 0);
        let mut length_too_large = RFC2865_7_1_REQUEST;
        overwrite(&mut length_too_large, 2, &57u16.to_be_bytes());
        let mut length_too_small = RFC2865_7_1_REQUEST;
        overwrite(&mut length_too_small, 2, &19u16.to_be_bytes());
        let mut attribute_overruns = RFC2865_7_1_REQUEST;
        attribute_overruns[51] = 7;
        let mut attribute_length_zero = RFC2865_7_1_REQUEST;
        attribute_length_zero[21] = 0;
        let mut attribute_length_one = RFC2865_7_1_REQUEST;
        attribute_length_one[21] = 1;
        let cases: [(&str, &[u8]); 7] = [
            ("truncated header", &RFC2865_7_1_REQUEST[..12]),
            ("over 4096 octets", &oversized),
            ("Length beyond datagram", &length_too_large),
            ("Length below header", &length_too_small),
            ("attribute overruns", &attribute_overruns),
            ("attribute length 0", &attribute_length_zero),
            ("attribute length 1", &attribute_length_one),
        ];
        for (name, datagram) in cases {
            let refusal = admit(datagram, from_nas(), &table(false)).unwrap_err();
            assert_eq!(refusal.discard.reason, DiscardReason::Malformed, "{name}");
            assert_eq!(refusal.discard.client.as_deref(), Some("vpn"), "{name}");
            assert!(refusal.malformation.is_some(), "{name}");
        }
    }
}
