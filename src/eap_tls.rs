//! EAP logins over RADIUS (RFC 3579): EAP-TLS (RFC 5216, RFC 9190), and with `[mschapv2]`
//! EAP-MSCHAPv2 and PEAPv0 with EAP-MSCHAPv2 inside, as `[eap] methods` allows them.
//!
//! A conversation starts with the peer's EAP-Response/Identity (RFC 3748 §5.1) and no State;
//! adgate answers with the first allowed method's first Request in an Access-Challenge
//! carrying a fresh State, and every later Access-Request echoes it; a Nak may ask for another
//! allowed method (`methods.rs`). A NAS may instead open with EAP-Start (RFC 3579 §2.1);
//! adgate then asks for the identity first, in a conversation of the same bounded table.
//! EAP-TLS: when the TLS handshake is over, the certificate's identity is checked against the
//! EAP identity and looked up in AD like a password login (without the bind). EAP-MSCHAPv2 and
//! PEAP: the MS-CHAPv2 login step checks the attempt ([`MsChapV2Login`]). An accepted login
//! gets EAP-Success and the MS-MPPE keys, a refused one EAP-Failure.
//! Challenges decide nothing and are not recorded. A refusal is recorded once: when it is
//! decided, which for a refusal the peer is told of first (a TLS alert, an MS-CHAPv2
//! Failure-Request) is when that goes out, not when the EAP-Failure closes the conversation.
//! No record holds a challenge, an NT-Response or a key.

mod conversation;
mod conversations;
mod methods;
mod peap;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use adgate_authz::{AccountDirectory, Authorizer, CertificateName, Decision, ReplyAttributes};
use adgate_certs::{EapTlsSession, Established, IdentityPolicy, TlsServer, TlsServerError};
use adgate_radius::eap::{eap_type, state_attribute};
use adgate_radius::eap_mschapv2::Verified;
use adgate_radius::mppe_keys::mppe_key_attributes;
use adgate_radius::ms_chap::MsChapErrorCode;
use adgate_radius::{
    AccessRequest, EapCode, EapMessage, EapPacket, InvalidReplyAttribute, ReplyAttribute,
};

use crate::audit::{AccountRecord, CertificateRecord};
use crate::decision::{Accept, AccessFlow, Decided, Login, Method, Reject};
use crate::mschapv2::{MsChapV2Login, MsChapV2Outcome};
use crate::reason::Reason;
use conversation::{Conversation, SessionKeys, StartedTls, Turn};
pub(crate) use conversations::ConversationCounts;
use conversations::Conversations;
pub(crate) use methods::{AllowedMethods, EapMethod};

/// EAP header, Type, EAP-TLS flags and TLS Message Length around each fragment's TLS data,
/// plus the EAPOL header on the link: what Framed-MTU must leave room for.
const FRAGMENT_OVERHEAD: u32 = 4 + 1 + 1 + 4 + 4;
const MIN_FRAGMENT_SIZE: usize = 64;
/// The Identifier of the EAP-Request/Identity answering EAP-Start: the first Request of its
/// conversation, so any value will do (RFC 3748 §4.1).
const IDENTITY_REQUEST_IDENTIFIER: u8 = 0;

/// `[eap_tls]` and `[eap]`: the EAP logins.
#[derive(Debug)]
pub struct EapTlsLoginSettings {
    /// The TLS server's certificate, key, CA and CRLs (`[eap_tls]`); absent when the methods
    /// allowed run no TLS (EAP-MSCHAPv2 alone).
    pub tls: Option<adgate_certs::MutualTlsSettings>,
    /// TLS data per EAP-TLS fragment; a smaller Framed-MTU from the NAS wins.
    pub fragment_size: usize,
    pub identity_policy: IdentityPolicy,
    /// Accept an anonymous EAP identity (RFC 7542 §2.4) instead of the certificate's name.
    pub allow_anonymous_identity: bool,
    /// Conversations in progress at once; beyond, the least recently active is dropped.
    pub max_conversations: usize,
    /// A conversation silent for this long is forgotten.
    pub conversation_timeout: Duration,
    /// `[eap] methods`: the methods allowed, the first offered to every peer.
    pub methods: AllowedMethods,
}

/// Everything EAP logins need, shared by all requests.
pub struct EapTlsLogins {
    /// The TLS server of EAP-TLS and PEAP; none without `[eap_tls]`.
    server: Option<Arc<TlsServer>>,
    conversations: Arc<Conversations>,
    fragment_size: usize,
    identity_policy: IdentityPolicy,
    allow_anonymous_identity: bool,
    methods: AllowedMethods,
}

/// What a conversation's login got from the MS-CHAPv2 login step, kept until the peer
/// confirms the success.
pub(crate) struct HeldAccept {
    account: Option<AccountRecord>,
    reply: ReplyAttributes,
}

impl EapTlsLogins {
    /// Loads the certificates, key, CA and CRLs, and watches the CRL files (`crl_refresh`); any
    /// problem stops the start.
    pub fn new(settings: EapTlsLoginSettings) -> Result<Self, TlsServerError> {
        let server = match settings.tls {
            Some(tls) => {
                if !tls.require_extended_master_secret {
                    tracing::warn!(
                        "eap_tls.tls12_require_extended_master_secret = false: TLS 1.2 peers \
                         without the extended master secret (RFC 7627) are accepted, which \
                         exposes their MSK to a triple-handshake attack; only for peers that \
                         cannot do better"
                    );
                }
                let server = Arc::new(TlsServer::new(tls, "certificate logins")?);
                crate::crl_refresh::watch(&server);
                Some(server)
            }
            None => None,
        };
        Ok(Self {
            server,
            conversations: Arc::new(Conversations::new(
                settings.max_conversations,
                settings.conversation_timeout,
            )),
            fragment_size: settings.fragment_size,
            identity_policy: settings.identity_policy,
            allow_anonymous_identity: settings.allow_anonymous_identity,
            methods: settings.methods,
        })
    }

    /// After a configuration reload: these settings (new conversations start with the new
    /// certificates, CA and CRLs) over `previous`'s conversations, which go on with the TLS
    /// settings they started with.
    pub(crate) fn continuing(self, previous: &EapTlsLogins) -> EapTlsLogins {
        previous.conversations.take_limits_from(&self.conversations);
        EapTlsLogins {
            conversations: Arc::clone(&previous.conversations),
            ..self
        }
    }

    /// The methods allowed, in the order offered.
    pub(crate) fn methods(&self) -> &AllowedMethods {
        &self.methods
    }

    /// The conversation table's state, for the metrics.
    pub(crate) fn conversation_counts(&self) -> ConversationCounts {
        self.conversations.counts()
    }

    /// Handles the EAP-Message of `request`. EAP-Start opens a new conversation whatever State
    /// comes with it.
    pub(crate) async fn handle<D: AccountDirectory>(
        &self,
        request: &AccessRequest,
        message: &EapMessage,
        state: Option<&[u8]>,
        framed_mtu: Option<u32>,
        authorizer: &Authorizer<D>,
        mschapv2: &impl MsChapV2Login,
    ) -> AccessFlow {
        match (message, state) {
            (EapMessage::Start, _) => self.answer_start(request),
            (EapMessage::Packet(packet), None) => self.begin(request, packet, framed_mtu),
            (EapMessage::Packet(packet), Some(state)) => {
                self.proceed(request, packet, state, framed_mtu, authorizer, mschapv2)
                    .await
            }
        }
    }

    /// EAP-Start (RFC 3579 §2.1): a new conversation that asks for the peer's identity with
    /// EAP-Request/Identity.
    fn answer_start(&self, request: &AccessRequest) -> AccessFlow {
        let conversation = Conversation::awaiting_identity(
            &request.client.name,
            self.methods.clone(),
            IDENTITY_REQUEST_IDENTIFIER,
        );
        let eap_request = conversation.request().clone();
        match self.conversations.insert(conversation) {
            Some(token) => challenge(self.methods.first(), &eap_request, &token),
            None => failed(
                self.methods.first(),
                IDENTITY_REQUEST_IDENTIFIER,
                Reason::EapProtocolError,
                None,
            ),
        }
    }

    /// A new conversation: the peer's Identity gets the first allowed method.
    fn begin(
        &self,
        request: &AccessRequest,
        packet: &EapPacket,
        framed_mtu: Option<u32>,
    ) -> AccessFlow {
        let first = self.methods.first();
        if packet.code != EapCode::Response || packet.eap_type() != Some(eap_type::IDENTITY) {
            return failed(first, packet.identifier, Reason::EapProtocolError, None);
        }
        let started = Conversation::begin(
            &request.client.name,
            self.methods.clone(),
            packet,
            |method| self.start_tls(method, framed_mtu),
        );
        let (conversation, eap_request) = match started {
            Ok(started) => started,
            Err(reason) => return failed(first, packet.identifier, reason, None),
        };
        match self.conversations.insert(conversation) {
            Some(token) => challenge(self.methods.first(), &eap_request, &token),
            None => failed(first, packet.identifier, Reason::EapProtocolError, None),
        }
    }

    /// A TLS session for `method` (EAP-TLS with the current certificates, CA and CRLs, or
    /// PEAP's tunnel), its fragments sized to fit the link's Framed-MTU (RFC 3579 §2.2).
    fn start_tls(&self, method: EapMethod, framed_mtu: Option<u32>) -> StartedTls {
        let fragment_size = framed_mtu
            .and_then(|mtu| usize::try_from(mtu.saturating_sub(FRAGMENT_OVERHEAD)).ok())
            .map_or(self.fragment_size, |fits| fits.min(self.fragment_size))
            .max(MIN_FRAGMENT_SIZE);
        // The configuration allows no TLS method without a server certificate.
        let server = self.server.as_ref().ok_or(Reason::EapMethodRefused)?;
        let started = match method {
            EapMethod::Peap => EapTlsSession::start_tunnel(server.tunnel_config(), fragment_size),
            EapMethod::Tls | EapMethod::MsChapV2 => {
                let config = server.config().map_err(Reason::from)?;
                EapTlsSession::start(config, fragment_size, self.identity_policy)
            }
        };
        started.map_err(Reason::from)
    }

    /// The next Response of a conversation in progress.
    async fn proceed<D: AccountDirectory>(
        &self,
        request: &AccessRequest,
        packet: &EapPacket,
        state: &[u8],
        framed_mtu: Option<u32>,
        authorizer: &Authorizer<D>,
        mschapv2: &impl MsChapV2Login,
    ) -> AccessFlow {
        let identifier = packet.identifier;
        let Some(shared) = self.conversations.get(state) else {
            return failed(
                self.methods.first(),
                identifier,
                Reason::EapConversationUnknown,
                None,
            );
        };
        let (turn, method, eap_identity, inner_identity) = match shared.lock() {
            Ok(mut conversation) => (
                conversation.respond(&request.client.name, packet, |method| {
                    self.start_tls(method, framed_mtu)
                }),
                conversation.method(),
                conversation.eap_identity().to_vec(),
                conversation.inner_identity(),
            ),
            Err(_) => (
                Turn::Failed(Reason::EapProtocolError),
                self.methods.first(),
                Vec::new(),
                None,
            ),
        };
        let mut account = None;
        let mut throttled_by = None;
        let turn = match turn {
            // The check may take a while (AD, winbind): the conversation is not locked meanwhile.
            Turn::Verify(attempt) => {
                let (verified, refusal) = match mschapv2
                    .check_mschapv2(request, record_method(method), &attempt)
                    .await
                {
                    MsChapV2Outcome::Accepted {
                        account,
                        reply,
                        authenticator_response,
                        keys,
                    } => (
                        Verified::Accepted {
                            authenticator_response,
                            keys,
                        },
                        Ok(HeldAccept { account, reply }),
                    ),
                    MsChapV2Outcome::Refused {
                        reason,
                        account,
                        throttled_by,
                    } => (
                        // E=691 whatever the reason, as for RADIUS MS-CHAPv2: who does not know
                        // the password learns nothing of the account (mschapv2/radius.rs).
                        Verified::Refused(MsChapErrorCode::AuthenticationFailure),
                        Err((reason, account, throttled_by)),
                    ),
                };
                match shared.lock() {
                    Ok(mut conversation) => match refusal {
                        Ok(held) => {
                            conversation.hold(held);
                            conversation.verified(verified, None)
                        }
                        Err((reason, refused_account, rule)) => {
                            account = refused_account;
                            throttled_by = rule;
                            conversation.verified(verified, Some(reason))
                        }
                    },
                    Err(_) => Turn::Failed(Reason::EapProtocolError),
                }
            }
            Turn::Succeeded(keys) => {
                let held = shared.lock().ok().and_then(|mut c| c.take_held());
                self.conversations.remove(state);
                return match held {
                    Some(held) => {
                        let mut flow =
                            accept_password_login(request, method, identifier, held, &keys);
                        if let AccessFlow::Record(decided) = &mut flow {
                            decided.login_mut().inner_identity = inner_identity;
                        }
                        flow
                    }
                    None => failed(method, identifier, Reason::EapProtocolError, None),
                };
            }
            other => other,
        };
        match turn {
            Turn::Challenge(eap_request) => challenge(method, &eap_request, state),
            Turn::Failed(reason) => {
                self.conversations.remove(state);
                let mut reject = refusal(method, identifier, reason, None);
                reject.login.account = account;
                reject.login.inner_identity = inner_identity;
                AccessFlow::record(Decided::Reject(reject))
            }
            Turn::Refusing(eap_request, reason) => {
                let mut reject = refusal(method, identifier, reason, None);
                reject.login.account = account;
                reject.login.inner_identity = inner_identity;
                reject.throttled_by = throttled_by;
                match challenge_attributes(&eap_request, state) {
                    // The conversation stays until the peer answers the refusal (or times out).
                    Ok(challenge) => {
                        AccessFlow::record(Decided::RejectWithAlert { reject, challenge })
                    }
                    Err(_) => {
                        self.conversations.remove(state);
                        AccessFlow::record(Decided::Reject(reject))
                    }
                }
            }
            Turn::Ended(reason) => {
                tracing::debug!(
                    reason = reason.as_str(),
                    "the peer answered the refusal; EAP-Failure ends it"
                );
                self.conversations.remove(state);
                AccessFlow::Close(eap_failure(identifier))
            }
            Turn::Established(established) => {
                self.conversations.remove(state);
                self.decide(request, identifier, &eap_identity, *established, authorizer)
                    .await
            }
            // A second check or success in one turn cannot happen: the conversation asks once.
            Turn::Verify(_) | Turn::Succeeded(_) => {
                self.conversations.remove(state);
                failed(method, identifier, Reason::EapProtocolError, None)
            }
        }
    }

    /// The certificate names someone: is it the person the EAP identity named, and may they
    /// work from home now?
    async fn decide<D: AccountDirectory>(
        &self,
        request: &AccessRequest,
        identifier: u8,
        eap_identity: &[u8],
        established: Established,
        authorizer: &Authorizer<D>,
    ) -> AccessFlow {
        let summary = &established.certificate;
        let mut certificate = CertificateRecord {
            subject: summary.subject.clone(),
            issuer: summary.issuer.clone(),
            serial: summary.serial.clone(),
            sha256_fingerprint: summary.sha256_fingerprint.clone(),
            identity_source: None,
            identity: None,
            tls_version: established.tls_version,
            cipher_suite: established.cipher_suite.clone(),
        };
        let claim = match established.identity {
            Ok(claim) => claim,
            Err(rejection) => {
                return failed(
                    EapMethod::Tls,
                    identifier,
                    rejection.into(),
                    Some(certificate),
                )
            }
        };
        certificate.identity_source = Some(claim.source.as_str());
        certificate.identity = Some(claim.value.clone());
        let anonymous = self.allow_anonymous_identity && is_anonymous(eap_identity);
        if !claim.named_by(eap_identity) && !anonymous {
            return failed(
                EapMethod::Tls,
                identifier,
                Reason::IdentityMismatch,
                Some(certificate),
            );
        }
        let name = if claim.source.is_upn() {
            CertificateName::Upn(claim.value)
        } else {
            CertificateName::Email(claim.value)
        };
        let outcome = authorizer.check_certificate_name(&name).await;
        let account = outcome.account.as_ref().map(AccountRecord::from);
        if let Decision::Reject(reason) = outcome.decision {
            let mut reject = refusal(EapMethod::Tls, identifier, reason.into(), Some(certificate));
            reject.login.account = account;
            return AccessFlow::record(Decided::Reject(reject));
        }
        let msk = &established.msk;
        let keys = mppe_key_attributes(
            &request.client.secret,
            &request.request_authenticator,
            msk.mppe_recv_key(),
            msk.mppe_send_key(),
        );
        let success = EapPacket::outcome(true, identifier).to_attributes();
        let (Ok(keys), Ok(mut accept_attributes)) = (keys, success) else {
            // Without the keys the VPN cannot encrypt: refuse rather than accept half.
            return failed(
                EapMethod::Tls,
                identifier,
                Reason::EapProtocolError,
                Some(certificate),
            );
        };
        accept_attributes.extend(keys);
        AccessFlow::record(Decided::Accept(Accept {
            login: Login {
                method: Method::EapTls,
                account,
                certificate: Some(certificate),
                inner_identity: None,
            },
            attributes: accept_attributes,
            // Should the accept be refused after all (trail unwritable), the peer hears so.
            reject_attributes: eap_failure(identifier),
            reply: outcome.reply,
        }))
    }
}

/// An anonymous identity (RFC 7542 §2.4): empty, `anonymous`, `@realm`, `anonymous@realm`.
fn is_anonymous(eap_identity: &[u8]) -> bool {
    let user = eap_identity
        .split(|&byte| byte == b'@')
        .next()
        .unwrap_or_default();
    user.is_empty() || user.eq_ignore_ascii_case(b"anonymous")
}

/// An Access-Challenge carrying `eap_request` of `method` and the conversation's State.
fn challenge(method: EapMethod, eap_request: &EapPacket, state: &[u8]) -> AccessFlow {
    match challenge_attributes(eap_request, state) {
        Ok(attributes) => AccessFlow::Challenge(attributes),
        Err(_) => failed(
            method,
            eap_request.identifier,
            Reason::EapProtocolError,
            None,
        ),
    }
}

/// `eap_request` and the conversation's State, as attributes.
fn challenge_attributes(
    eap_request: &EapPacket,
    state: &[u8],
) -> Result<Vec<ReplyAttribute>, InvalidReplyAttribute> {
    let mut attributes = eap_request.to_attributes()?;
    attributes.push(state_attribute(state)?);
    Ok(attributes)
}

/// An MS-CHAPv2 login the peer confirmed: EAP-Success and the keys, with the account and
/// reply attributes the login step accepted.
fn accept_password_login(
    request: &AccessRequest,
    method: EapMethod,
    identifier: u8,
    held: HeldAccept,
    keys: &SessionKeys,
) -> AccessFlow {
    let keys = mppe_key_attributes(
        &request.client.secret,
        &request.request_authenticator,
        &keys.recv,
        &keys.send,
    );
    let success = EapPacket::outcome(true, identifier).to_attributes();
    let (Ok(keys), Ok(mut attributes)) = (keys, success) else {
        // Without the keys the VPN cannot encrypt: refuse rather than accept half.
        let mut reject = refusal(method, identifier, Reason::EapProtocolError, None);
        reject.login.account = held.account;
        return AccessFlow::record(Decided::Reject(reject));
    };
    attributes.extend(keys);
    AccessFlow::record(Decided::Accept(Accept {
        login: Login {
            method: record_method(method),
            account: held.account,
            certificate: None,
            inner_identity: None,
        },
        attributes,
        reject_attributes: eap_failure(identifier),
        reply: held.reply,
    }))
}

fn failed(
    method: EapMethod,
    identifier: u8,
    reason: Reason,
    certificate: Option<CertificateRecord>,
) -> AccessFlow {
    AccessFlow::record(Decided::Reject(refusal(
        method,
        identifier,
        reason,
        certificate,
    )))
}

/// The record's method for an EAP method.
fn record_method(method: EapMethod) -> Method {
    match method {
        EapMethod::Tls => Method::EapTls,
        EapMethod::MsChapV2 => Method::EapMsChapV2,
        EapMethod::Peap => Method::PeapMsChapV2,
    }
}

/// A refusal carrying EAP-Failure.
fn refusal(
    method: EapMethod,
    identifier: u8,
    reason: Reason,
    certificate: Option<CertificateRecord>,
) -> Reject {
    Reject {
        login: Login {
            method: record_method(method),
            account: None,
            certificate,
            inner_identity: None,
        },
        reason,
        attributes: eap_failure(identifier),
        throttled_by: None,
    }
}

/// EAP-Failure (RFC 3579 §2.6.3), whose Identifier is the Response's.
fn eap_failure(identifier: u8) -> Vec<ReplyAttribute> {
    EapPacket::outcome(false, identifier)
        .to_attributes()
        .unwrap_or_default()
}
