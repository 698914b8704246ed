//! What an Access-Request comes to, as types: the gatekeeper (password logins) and `eap_tls`
//! (certificate logins) both hand back an [`AccessFlow`], and the gatekeeper records and
//! answers it. Each type admits only what can happen: an accept never carries a reason, a
//! TLS alert only goes with a refusal, and a reply that skips the trail can only be an EAP
//! round trip or the close of a refusal already recorded — never an accept.

use adgate_authz::ReplyAttributes;
use adgate_radius::{Reply, ReplyAttribute};

use crate::audit::{AccountRecord, CertificateRecord, Verdict};
use crate::reason::Reason;
use crate::throttle::ThrottleRule;

/// The next step for an Access-Request once its login method is done with it. Like
/// hickory-dns's `LookupControlFlow`, this names the control flow instead of overloading
/// `Result` with "an error that is really a reply".
pub(crate) enum AccessFlow {
    /// A decision: recorded in the trail, then answered according to it.
    Record(Box<Decided>),
    /// The EAP conversation goes on: an Access-Challenge with these attributes (EAP-Request,
    /// State). Not recorded: it decides nothing.
    Challenge(Vec<ReplyAttribute>),
    /// The peer answered the TLS alert or Failure-Request: the Access-Reject with these attributes
    /// (EAP-Failure) closes a conversation whose refusal was recorded when the alert went out
    /// (RFC 5216 §2.1.3). Not recorded again.
    Close(Vec<ReplyAttribute>),
}

impl AccessFlow {
    /// Record `decided`, then answer by it.
    pub(crate) fn record(decided: Decided) -> AccessFlow {
        AccessFlow::Record(Box::new(decided))
    }
}

/// A decision on a login, before it is recorded and answered.
pub(crate) enum Decided {
    /// Let the user in: an Access-Accept.
    Accept(Accept),
    /// Keep the user out: an Access-Reject.
    Reject(Reject),
    /// Keep the user out, telling the peer why first: an EAP-TLS handshake refused with a TLS
    /// alert (RFC 5216 §2.1.3), an MS-CHAPv2 login with a Failure-Request. Recorded as a reject now, so that a peer that never
    /// acknowledges the alert leaves a record all the same; answered with an Access-Challenge
    /// carrying the alert (`challenge`: EAP-Request, State). The Access-Reject follows as
    /// [`AccessFlow::Close`].
    RejectWithAlert {
        reject: Reject,
        challenge: Vec<ReplyAttribute>,
    },
}

/// How the user tried to log in, as the record's `method` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Pap,
    EapTls,
    EapMsChapV2,
    PeapMsChapV2,
    /// RADIUS MS-CHAPv2 (RFC 2548: MS-CHAP-Challenge and MS-CHAP2-Response).
    MsChapV2,
    /// No credential adgate accepts (CHAP, MS-CHAP, EAP without `[eap_tls]`).
    Unsupported,
}

impl Method {
    const ALL: [Method; 6] = [
        Method::Pap,
        Method::EapTls,
        Method::EapMsChapV2,
        Method::PeapMsChapV2,
        Method::MsChapV2,
        Method::Unsupported,
    ];

    /// The method a record's `method` value names.
    pub(crate) fn from_record(value: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|method| method.as_str() == value)
    }

    /// Whether AD checked a password in this method's logins, so that an accept forgives the
    /// bad-password budget that judged it (a certificate proves no password).
    pub(crate) const fn checks_a_password(self) -> bool {
        match self {
            Method::Pap | Method::EapMsChapV2 | Method::PeapMsChapV2 | Method::MsChapV2 => true,
            Method::EapTls | Method::Unsupported => false,
        }
    }

    /// The record's `method` value.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Method::Pap => "pap",
            Method::EapTls => "eap-tls",
            Method::EapMsChapV2 => "eap-mschapv2",
            Method::PeapMsChapV2 => "peap-mschapv2",
            Method::MsChapV2 => "mschapv2",
            Method::Unsupported => "unsupported",
        }
    }
}

/// Who a decision is about, as far as the login got before it was decided.
pub(crate) struct Login {
    pub(crate) method: Method,
    /// The AD account the name resolved to.
    pub(crate) account: Option<AccountRecord>,
    /// The client certificate of an EAP-TLS login that got as far as one.
    pub(crate) certificate: Option<CertificateRecord>,
    /// PEAP: the identity inside the tunnel, the one checked (the outer may be anonymous).
    pub(crate) inner_identity: Option<String>,
}

impl Login {
    /// A login that got nowhere near an account or a certificate.
    pub(crate) fn by(method: Method) -> Login {
        Login {
            method,
            account: None,
            certificate: None,
            inner_identity: None,
        }
    }
}

/// An accept, before the Class that names its record is added.
pub(crate) struct Accept {
    pub(crate) login: Login,
    /// What the login method puts in the Access-Accept (EAP-Success, MS-MPPE keys).
    pub(crate) attributes: Vec<ReplyAttribute>,
    /// What the Access-Reject carries should this accept be refused after all (the trail
    /// cannot be written, the group's attributes cannot be encoded): EAP-Failure for EAP-TLS.
    pub(crate) reject_attributes: Vec<ReplyAttribute>,
    /// The user's per-group attributes (`[[policy.reply]]`).
    pub(crate) reply: ReplyAttributes,
}

/// A refusal and its reason, which goes to the record and the log, never onto the wire.
pub(crate) struct Reject {
    pub(crate) login: Login,
    pub(crate) reason: Reason,
    /// What the Access-Reject carries (EAP-Failure for EAP-TLS).
    pub(crate) attributes: Vec<ReplyAttribute>,
    /// For [`Reason::Throttled`]: which budget was spent.
    pub(crate) throttled_by: Option<ThrottleRule>,
}

impl Accept {
    /// This accept turned into a refusal for `reason`.
    pub(crate) fn refused(self, reason: Reason) -> Reject {
        Reject {
            login: self.login,
            reason,
            attributes: self.reject_attributes,
            throttled_by: None,
        }
    }
}

impl Reject {
    /// A refusal carrying no attributes.
    pub(crate) fn bare(login: Login, reason: Reason) -> Reject {
        Reject {
            login,
            reason,
            attributes: Vec::new(),
            throttled_by: None,
        }
    }

    /// A password login by `method` refused by the throttle, AD not asked, because `rule`'s
    /// budget is spent.
    pub(crate) fn throttled(method: Method, rule: ThrottleRule) -> Reject {
        Reject {
            throttled_by: Some(rule),
            ..Reject::bare(Login::by(method), Reason::Throttled)
        }
    }

    /// The Access-Reject.
    pub(crate) fn reply(self) -> Reply {
        match self.attributes.is_empty() {
            true => Reply::Reject,
            false => Reply::RejectWith {
                attributes: self.attributes,
            },
        }
    }
}

impl Decided {
    pub(crate) fn verdict(&self) -> Verdict {
        match self {
            Decided::Accept(_) => Verdict::Accept,
            Decided::Reject(_) | Decided::RejectWithAlert { .. } => Verdict::Reject,
        }
    }

    /// The reason of a refusal; `None` for an accept.
    pub(crate) fn reason(&self) -> Option<Reason> {
        match self {
            Decided::Accept(_) => None,
            Decided::Reject(reject) | Decided::RejectWithAlert { reject, .. } => {
                Some(reject.reason)
            }
        }
    }

    /// For a throttled refusal: which budget was spent.
    pub(crate) fn throttled_by(&self) -> Option<ThrottleRule> {
        match self {
            Decided::Accept(_) => None,
            Decided::Reject(reject) | Decided::RejectWithAlert { reject, .. } => {
                reject.throttled_by
            }
        }
    }

    pub(crate) fn login_mut(&mut self) -> &mut Login {
        match self {
            Decided::Accept(accept) => &mut accept.login,
            Decided::Reject(reject) | Decided::RejectWithAlert { reject, .. } => &mut reject.login,
        }
    }

    pub(crate) fn login(&self) -> &Login {
        match self {
            Decided::Accept(accept) => &accept.login,
            Decided::Reject(reject) | Decided::RejectWithAlert { reject, .. } => &reject.login,
        }
    }

    /// The per-group attributes an accept carries (empty on a refusal).
    pub(crate) fn reply_attributes(&self) -> Option<&ReplyAttributes> {
        match self {
            Decided::Accept(accept) => Some(&accept.reply),
            Decided::Reject(_) | Decided::RejectWithAlert { .. } => None,
        }
    }

    /// The Access-Reject sent when this decision could not be recorded: whatever was decided,
    /// the login is refused (fail closed), and an EAP peer hears EAP-Failure.
    pub(crate) fn unrecorded_reply(self) -> Reply {
        match self {
            Decided::Accept(accept) => accept.refused(Reason::AuditUnavailable).reply(),
            Decided::Reject(reject) | Decided::RejectWithAlert { reject, .. } => reject.reply(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eap_failure() -> Vec<ReplyAttribute> {
        vec![ReplyAttribute::new(79, vec![4, 7, 0, 4]).unwrap()]
    }

    fn accept(reject_attributes: Vec<ReplyAttribute>) -> Decided {
        Decided::Accept(Accept {
            login: Login::by(Method::EapTls),
            attributes: Vec::new(),
            reject_attributes,
            reply: ReplyAttributes::default(),
        })
    }

    #[test]
    fn an_unrecorded_decision_is_a_reject_whatever_was_decided() {
        assert_eq!(
            accept(eap_failure()).unrecorded_reply(),
            Reply::RejectWith {
                attributes: eap_failure()
            }
        );
        assert_eq!(accept(Vec::new()).unrecorded_reply(), Reply::Reject);
        let alert = Decided::RejectWithAlert {
            reject: Reject {
                login: Login::by(Method::EapTls),
                reason: Reason::CertificateExpired,
                attributes: eap_failure(),
                throttled_by: None,
            },
            challenge: eap_failure(),
        };
        assert_eq!(alert.verdict(), Verdict::Reject);
        assert_eq!(alert.reason(), Some(Reason::CertificateExpired));
        assert_eq!(
            alert.unrecorded_reply(),
            Reply::RejectWith {
                attributes: eap_failure()
            },
            "the EAP-Failure, not the alert"
        );
    }

    #[test]
    fn methods_keep_their_record_values() {
        assert_eq!(
            [
                Method::Pap,
                Method::EapTls,
                Method::MsChapV2,
                Method::EapMsChapV2,
                Method::PeapMsChapV2,
                Method::Unsupported
            ]
            .map(Method::as_str),
            [
                "pap",
                "eap-tls",
                "mschapv2",
                "eap-mschapv2",
                "peap-mschapv2",
                "unsupported"
            ]
        );
    }
}
