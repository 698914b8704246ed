//! Building the response to a request: Access-Accept or Access-Reject, the
//! Accounting-Response, and the answer to Status-Server.
//!
//! Every response starts with a Message-Authenticator, whether or not the
//! request had one: it is the server half of the BlastRADIUS mitigation
//! (CVE-2024-3596), which stops a forged response from being accepted by a
//! NAS that checks it. The Message-Authenticator is computed first, over the
//! packet with the Request Authenticator in place (RFC 3579 §3.2); the
//! Response Authenticator is then computed over those final octets
//! (RFC 2865 §3).

use std::sync::Arc;

use crate::clients::NasClient;
use crate::dictionary::{
    ACCESS_ACCEPT, ACCESS_CHALLENGE, ACCESS_REJECT, ACCOUNTING_RESPONSE, MESSAGE_AUTHENTICATOR,
    PROXY_STATE,
};
use crate::handler::{Reply, ReplyAttribute};
use crate::message_authenticator;
use crate::packet::{Authenticator, EncodeError, Packet, PacketWriter};
use crate::response_authenticator;

/// What a response needs from its request, kept while the handler decides.
#[derive(Debug)]
pub(crate) struct ResponseContext {
    client: Arc<NasClient>,
    identifier: u8,
    request_authenticator: Authenticator,
    /// Proxy-State values, in order, to be echoed (RFC 2865 §5.33).
    proxy_states: Vec<Vec<u8>>,
}

impl ResponseContext {
    pub(crate) fn new(request: &Packet<'_>, client: Arc<NasClient>) -> Self {
        Self {
            client,
            identifier: request.identifier(),
            request_authenticator: *request.authenticator(),
            proxy_states: request.values(PROXY_STATE).map(<[u8]>::to_vec).collect(),
        }
    }

    /// The Access-Accept or Access-Reject octets: header,
    /// Message-Authenticator, the reply's attributes, then the request's
    /// Proxy-States unmodified and in order (RFC 2865 §5.33).
    pub(crate) fn encode(&self, reply: &Reply) -> Result<Vec<u8>, EncodeError> {
        match reply {
            Reply::Accept { attributes } => self.build(ACCESS_ACCEPT, attributes, true),
            Reply::Reject => self.build(ACCESS_REJECT, &[], true),
            Reply::Challenge { attributes } => self.build(ACCESS_CHALLENGE, attributes, true),
            Reply::RejectWith { attributes } => self.build(ACCESS_REJECT, attributes, true),
        }
    }

    /// The Accounting-Response (RFC 2866 §4.2): no attributes but the
    /// Proxy-States. No Message-Authenticator: RFC 2866 defines none, and
    /// FreeRADIUS checks one in an Accounting-Response against a zeroed
    /// Authenticator rather than the Request Authenticator, so adding it
    /// would make answers fail there.
    pub(crate) fn encode_accounting_response(&self) -> Result<Vec<u8>, EncodeError> {
        self.build(ACCOUNTING_RESPONSE, &[], false)
    }

    /// The answer to Status-Server (RFC 5997 §3): Access-Accept on the
    /// authentication port, Accounting-Response on the accounting port,
    /// with Message-Authenticator first (RFC 5997 §3 requires it in both).
    pub(crate) fn encode_status_answer(
        &self,
        accounting_port: bool,
    ) -> Result<Vec<u8>, EncodeError> {
        let code = if accounting_port {
            ACCOUNTING_RESPONSE
        } else {
            ACCESS_ACCEPT
        };
        self.build(code, &[], true)
    }

    fn build(
        &self,
        code: u8,
        attributes: &[ReplyAttribute],
        with_message_authenticator: bool,
    ) -> Result<Vec<u8>, EncodeError> {
        let mut writer = PacketWriter::new(code, self.identifier, &self.request_authenticator);
        let message_authenticator_offset = if with_message_authenticator {
            Some(writer.push(
                MESSAGE_AUTHENTICATOR,
                &[0; message_authenticator::VALUE_LEN],
            )?)
        } else {
            None
        };
        for attribute in attributes {
            writer.push(attribute.attribute_type(), attribute.value())?;
        }
        for proxy_state in &self.proxy_states {
            writer.push(PROXY_STATE, proxy_state)?;
        }
        let mut response = writer.into_bytes();
        response_authenticator::seal(
            &self.client.secret,
            &mut response,
            message_authenticator_offset,
        );
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use radius::core::packet::Packet as ReferencePacket;

    use super::*;
    use crate::clients::ClientState;
    use crate::secret::SharedSecret;
    use crate::test_vectors::{ACCEPT_WITH_MESSAGE_AUTHENTICATOR, RFC2865_7_1_REQUEST, SECRET};

    fn context_for(request: &[u8]) -> ResponseContext {
        let client = Arc::new(NasClient {
            name: "nas".to_owned(),
            secret: SharedSecret::new(SECRET.to_vec()),
            require_message_authenticator: crate::clients::MessageAuthenticatorRule::Auto,
            limit_proxy_state: true,
            max_in_flight: 1,
            state: ClientState::default(),
        });
        ResponseContext::new(&Packet::parse(request).unwrap(), client)
    }

    fn attribute(attribute_type: u8, value: &[u8]) -> ReplyAttribute {
        ReplyAttribute::new(attribute_type, value.to_vec()).unwrap()
    }

    /// The RFC 2865 §7.1 request with Proxy-States "one" and "two" appended.
    fn request_with_proxy_states() -> Vec<u8> {
        let mut request = RFC2865_7_1_REQUEST.to_vec();
        request.extend_from_slice(&[PROXY_STATE, 5, b'o', b'n', b'e']);
        request.extend_from_slice(&[PROXY_STATE, 5, b't', b'w', b'o']);
        request[3] = u8::try_from(request.len()).unwrap();
        request
    }

    #[test]
    fn matches_the_openssl_derived_accept() {
        let reply = Reply::Accept {
            attributes: vec![
                attribute(6, &[0, 0, 0, 1]),
                attribute(15, &[0, 0, 0, 0]),
                attribute(14, &[192, 168, 1, 3]),
            ],
        };
        let response = context_for(&RFC2865_7_1_REQUEST).encode(&reply).unwrap();
        assert_eq!(response, ACCEPT_WITH_MESSAGE_AUTHENTICATOR);
    }

    #[test]
    fn radius_rs_accepts_our_response_authenticator() {
        let request = request_with_proxy_states();
        for reply in [Reply::Reject, Reply::Accept { attributes: vec![] }] {
            let response = context_for(&request).encode(&reply).unwrap();
            assert!(ReferencePacket::is_authentic_response(
                &response, &request, SECRET
            ));
        }
    }

    #[test]
    fn message_authenticator_first_proxy_states_last_in_order() {
        let request = request_with_proxy_states();
        let reply = Reply::Accept {
            attributes: vec![ReplyAttribute::reply_message("hi").unwrap()],
        };
        let response = context_for(&request).encode(&reply).unwrap();
        let packet = Packet::parse(&response).unwrap();
        let types: Vec<u8> = packet
            .attributes()
            .iter()
            .map(|a| a.attribute_type)
            .collect();
        assert_eq!(types, [MESSAGE_AUTHENTICATOR, 18, PROXY_STATE, PROXY_STATE]);
        assert_eq!(
            packet.values(PROXY_STATE).collect::<Vec<_>>(),
            [b"one", b"two"]
        );

        let secret = SharedSecret::new(SECRET.to_vec());
        let request_authenticator: Authenticator = request[4..20].try_into().unwrap();
        let signature = message_authenticator::find(&packet).unwrap().unwrap();
        assert!(message_authenticator::verify(
            &secret,
            &packet,
            &signature,
            &request_authenticator
        ));
        assert!(response_authenticator::verify(
            &secret,
            &packet,
            &request_authenticator
        ));
    }

    #[test]
    fn reject_carries_only_the_message_authenticator_and_proxy_states() {
        let response = context_for(&request_with_proxy_states())
            .encode(&Reply::Reject)
            .unwrap();
        let packet = Packet::parse(&response).unwrap();
        assert_eq!(packet.code(), ACCESS_REJECT);
        let types: Vec<u8> = packet
            .attributes()
            .iter()
            .map(|a| a.attribute_type)
            .collect();
        assert_eq!(types, [MESSAGE_AUTHENTICATOR, PROXY_STATE, PROXY_STATE]);
    }

    #[test]
    fn eap_replies_are_access_challenge_and_access_reject_with_attributes() {
        let eap = attribute(79, &[4, 7, 0, 4]);
        for (reply, code) in [
            (
                Reply::Challenge {
                    attributes: vec![eap.clone(), attribute(24, b"state")],
                },
                ACCESS_CHALLENGE,
            ),
            (
                Reply::RejectWith {
                    attributes: vec![eap.clone()],
                },
                ACCESS_REJECT,
            ),
        ] {
            let response = context_for(&RFC2865_7_1_REQUEST).encode(&reply).unwrap();
            let packet = Packet::parse(&response).unwrap();
            assert_eq!(packet.code(), code);
            assert_eq!(packet.attributes()[0].attribute_type, MESSAGE_AUTHENTICATOR);
            assert_eq!(packet.values(79).collect::<Vec<_>>(), [&[4, 7, 0, 4][..]]);
            assert!(ReferencePacket::is_authentic_response(
                &response,
                &RFC2865_7_1_REQUEST,
                SECRET
            ));
        }
    }

    #[test]
    fn refuses_a_response_over_4096_octets() {
        let reply = Reply::Accept {
            attributes: vec![attribute(26, &[0; 253]); 16],
        };
        let result = context_for(&RFC2865_7_1_REQUEST).encode(&reply);
        assert_eq!(result, Err(EncodeError::PacketTooLarge));
    }
}
