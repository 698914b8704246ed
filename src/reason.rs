//! Why a login was refused, a live session ended or a request dropped: the one closed set of
//! reason codes that audit records, log lines and the `reason` label of `adgate_rejects_total`,
//! `adgate_disconnects_total` and `adgate_discards_total` carry. The libraries name their own reasons (`authz::Reason`,
//! `certs::Rejection`, `radius::DiscardReason` and `Skip`); each converts into this one, so a
//! reason can only reach the trail, the log or a metric through a variant here.
//!
//! A code (`as_str`) is a contract with auditors and dashboards: never renamed, never reused.
//! `docs/reasons.md` tells an admin what each means and what to do; a test checks that it
//! lists exactly these codes. A new reason is one line in `reasons!` below and one row there.

use std::fmt;

use adgate_authz::Reason as AccountReason;
use adgate_certs::Rejection;
use adgate_radius::{DiscardReason, Skip};
use serde::{Serialize, Serializer};

/// Declares [`Reason`], its [`Reason::ALL`] and its [`Reason::as_str`] from one list of
/// documented variants and their codes.
macro_rules! reasons {
    ($($(#[doc = $doc:literal])* $variant:ident => $code:literal,)*) => {
        /// A reason code. Each variant's documentation says what an admin should do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Reason {
            /// Every reason, in declaration order (what the tests check `docs/reasons.md` by).
            #[cfg(test)]
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The stable snake_case code, e.g. `"telework_off"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $code,)*
                }
            }
        }
    };
}

reasons! {
    // Refused logins: the account and the policy (`authz`).
    /// No AD user has this name, or the name is malformed. Check the spelling the VPN client
    /// sends, the account, and `directory.netbios_domain`.
    UnknownUser => "unknown_user",
    /// More than one AD user matches. Make sAMAccountName/UPN unique; adgate never guesses.
    AmbiguousUser => "ambiguous_user",
    /// The password was empty; no bind was tried (AD treats it as anonymous). Fix the client.
    EmptyPassword => "empty_password",
    /// AD refused the password. The user retries; AD counts it toward lockout.
    BadPassword => "bad_password",
    /// The account is disabled. Enable it if the person should have access.
    AccountDisabled => "account_disabled",
    /// AD locked the account after failed logins. Wait or unlock it; look for a client
    /// retrying an old password.
    AccountLocked => "account_locked",
    /// `accountExpires` has passed. Extend the account if the person is still entitled.
    AccountExpired => "account_expired",
    /// The user must set a new password first. They change it on the office network.
    MustChangePassword => "must_change_password",
    /// The password is older than the domain allows. The user changes it.
    PasswordExpired => "password_expired",
    /// The account's `logonHours` exclude this hour, or AD refused the bind for logon hours,
    /// workstation or logon-type restrictions. Review the account's.
    LogonRestricted => "logon_restricted",
    /// The Dial-in tab says "Deny access". Allow it, or control access through NPS policy.
    DialinDenied => "dialin_denied",
    /// Not in `policy.telework_group`, even nested. Add them if telework is approved.
    TeleworkOff => "telework_off",
    /// AD could not be asked, so the login is refused (fail closed). Check the DCs, the CA
    /// file and the service account; the log names the cause.
    DirectoryUnavailable => "directory_unavailable",
    /// No credential adgate can check (CHAP, MS-CHAPv1, EAP without `[eap_tls]`, MS-CHAPv2
    /// without `[mschapv2]`, a password that is not UTF-8). Configure the NAS for PAP,
    /// MS-CHAPv2 or EAP-TLS.
    UnsupportedCredential => "unsupported_credential",
    // Live sessions cut (`sessions`): besides the account reasons that end a session.
    /// A live session's AD account was deleted or moved out of `directory.base_dn` (a login
    /// gets `unknown_user`). Restore it from the Recycle Bin if that was a mistake.
    AccountDeleted => "account_deleted",
    /// An admin cut the session with `adgate sessions disconnect`; the record says who and why.
    AdminRequest => "admin_request",
    // Refused logins: adgate's own guard.
    /// Too many bad passwords within the window in the budget that judges this login (the
    /// record's `throttled_by`: `user`, `user_at_station` or `station`); AD was not asked.
    /// Look for password guessing; it lifts by itself.
    Throttled => "throttled",
    // Refused logins: the certificate and the TLS handshake (`certs`).
    /// The certificate names no person (no SAN UPN or e-mail). Issue certificates from a
    /// template that puts the UPN in the SAN.
    NoCertificateIdentity => "no_certificate_identity",
    /// The certificate names several people. Reissue it with one.
    AmbiguousCertificateIdentity => "ambiguous_certificate_identity",
    /// The EAP identity is not the certificate's. Configure the client to send it, or allow
    /// anonymous identities.
    IdentityMismatch => "identity_mismatch",
    /// The client sent no certificate. Install the user's certificate on the client.
    NoClientCertificate => "no_client_certificate",
    /// The certificate does not chain to `eap_tls.ca_file`. Check the issuing CA.
    CertificateUntrusted => "certificate_untrusted",
    /// The certificate or its chain is expired or not yet valid. Renew it.
    CertificateExpired => "certificate_expired",
    /// A configured CRL revokes the certificate. Nothing to do: that is what revocation is for.
    CertificateRevoked => "certificate_revoked",
    /// No valid CRL for the issuer, or the CRL files do not load. Publish fresh CRLs.
    RevocationUnknown => "revocation_unknown",
    /// Extended Key Usage missing or without clientAuth. Issue client-authentication
    /// certificates.
    CertificateWrongPurpose => "certificate_wrong_purpose",
    /// The TLS handshake failed. Check the client's TLS settings and its trust in adgate's
    /// certificate.
    TlsHandshakeFailed => "tls_handshake_failed",
    /// EAP-TLS framing adgate cannot accept. Check the client and the NAS.
    EapTlsMalformed => "eap_tls_malformed",
    // Refused logins: the EAP conversation (`eap_tls`).
    /// The client answered EAP-TLS Start with a Nak. Configure it for EAP-TLS.
    EapMethodRefused => "eap_method_refused",
    /// An EAP packet out of sequence, of the wrong code or type, or from another NAS. Check
    /// the NAS and the client.
    EapProtocolError => "eap_protocol_error",
    /// The State names no conversation in progress. The client retries; raise
    /// `eap_tls.max_conversations` if it happens under normal load.
    EapConversationUnknown => "eap_conversation_unknown",
    // Refused logins: after the decision (`gatekeeper`).
    /// The decision could not be recorded, so the login was refused (log and metric only).
    /// Fix the audit directory or disk.
    AuditUnavailable => "audit_unavailable",
    /// An accept's `[[policy.reply]]` attributes could not be encoded, so it was refused.
    /// `check-config` rules this out: report it as a bug.
    ReplyUnencodable => "reply_unencodable",
    // Dropped requests (`radius`): recorded with verdict `discard`.
    /// The source address matches no `[[clients]]` entry. Add the NAS, or find the sender.
    UnknownClient => "unknown_client",
    /// Not a well-formed RADIUS packet. Check the NAS; from an unknown sender, ignore it.
    Malformed => "malformed",
    /// A code adgate does not serve on this port. Point the NAS at the right port.
    UnsupportedCode => "unsupported_code",
    /// A code only servers send: reflected or spoofed traffic. Find the sender.
    UnexpectedResponse => "unexpected_response",
    /// The Request Authenticator does not verify. Make the shared secrets match.
    BadRequestAuthenticator => "bad_request_authenticator",
    /// No Message-Authenticator from a client that must send one. Enable it on the NAS
    /// (BlastRADIUS).
    MissingMessageAuthenticator => "missing_message_authenticator",
    /// The Message-Authenticator does not verify. Make the shared secrets match.
    BadMessageAuthenticator => "bad_message_authenticator",
    /// Neither NAS-IP-Address nor NAS-Identifier, or no Acct-Status-Type. Configure the NAS to
    /// send them.
    MissingAttribute => "missing_attribute",
    /// More than one kind of credential in one request. Fix the NAS.
    ConflictingCredentials => "conflicting_credentials",
    /// Proxy-State in an unsigned request from a `limit_proxy_state` client: the BlastRADIUS
    /// pattern. Have the NAS sign its requests; investigate if it never proxies.
    ProxyStateWithoutMessageAuthenticator => "proxy_state_without_message_authenticator",
    // Dropped requests (`radius`): only counted.
    /// Every request slot of the client was busy and its queue full, or the request waited in
    /// the queue past the NAS's retransmission. Look at AD's latency; raise `max_in_flight` if
    /// it keeps up.
    Overloaded => "overloaded",
    /// A retransmission of a request still being decided. Nothing, unless it grows: then the
    /// NAS gives up sooner than AD answers.
    DuplicateInProgress => "duplicate_in_progress",
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl From<AccountReason> for Reason {
    fn from(reason: AccountReason) -> Reason {
        match reason {
            AccountReason::UnknownUser => Reason::UnknownUser,
            AccountReason::AmbiguousUser => Reason::AmbiguousUser,
            AccountReason::BadPassword => Reason::BadPassword,
            AccountReason::EmptyPassword => Reason::EmptyPassword,
            AccountReason::AccountDisabled => Reason::AccountDisabled,
            AccountReason::AccountLocked => Reason::AccountLocked,
            AccountReason::AccountExpired => Reason::AccountExpired,
            AccountReason::PasswordExpired => Reason::PasswordExpired,
            AccountReason::MustChangePassword => Reason::MustChangePassword,
            AccountReason::DialinDenied => Reason::DialinDenied,
            AccountReason::TeleworkOff => Reason::TeleworkOff,
            AccountReason::DirectoryUnavailable => Reason::DirectoryUnavailable,
            AccountReason::LogonRestricted => Reason::LogonRestricted,
            AccountReason::UnsupportedCredential => Reason::UnsupportedCredential,
            AccountReason::AccountDeleted => Reason::AccountDeleted,
        }
    }
}

impl From<Rejection> for Reason {
    fn from(rejection: Rejection) -> Reason {
        match rejection {
            Rejection::NoCertificateIdentity => Reason::NoCertificateIdentity,
            Rejection::AmbiguousCertificateIdentity => Reason::AmbiguousCertificateIdentity,
            Rejection::IdentityMismatch => Reason::IdentityMismatch,
            Rejection::NoClientCertificate => Reason::NoClientCertificate,
            Rejection::CertificateUntrusted => Reason::CertificateUntrusted,
            Rejection::CertificateExpired => Reason::CertificateExpired,
            Rejection::CertificateRevoked => Reason::CertificateRevoked,
            Rejection::RevocationUnknown => Reason::RevocationUnknown,
            Rejection::CertificateWrongPurpose => Reason::CertificateWrongPurpose,
            Rejection::TlsHandshakeFailed => Reason::TlsHandshakeFailed,
            Rejection::EapTlsMalformed => Reason::EapTlsMalformed,
        }
    }
}

impl From<DiscardReason> for Reason {
    fn from(reason: DiscardReason) -> Reason {
        match reason {
            DiscardReason::UnknownClient => Reason::UnknownClient,
            DiscardReason::Malformed => Reason::Malformed,
            DiscardReason::UnsupportedCode => Reason::UnsupportedCode,
            DiscardReason::BadRequestAuthenticator => Reason::BadRequestAuthenticator,
            DiscardReason::MissingMessageAuthenticator => Reason::MissingMessageAuthenticator,
            DiscardReason::BadMessageAuthenticator => Reason::BadMessageAuthenticator,
            DiscardReason::UnexpectedResponse => Reason::UnexpectedResponse,
            DiscardReason::MissingAttribute => Reason::MissingAttribute,
            DiscardReason::ConflictingCredentials => Reason::ConflictingCredentials,
            DiscardReason::ProxyStateWithoutMessageAuthenticator => {
                Reason::ProxyStateWithoutMessageAuthenticator
            }
        }
    }
}

impl From<Skip> for Reason {
    fn from(skip: Skip) -> Reason {
        match skip {
            Skip::Overloaded => Reason::Overloaded,
            Skip::DuplicateInProgress => Reason::DuplicateInProgress,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The codes in the first column of the tables of `docs/reasons.md`.
    fn documented_codes() -> Vec<&'static str> {
        include_str!("../docs/reasons.md")
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|row| row.split_once("` |"))
            .map(|(code, _)| code)
            .collect()
    }

    #[test]
    fn docs_reasons_md_documents_every_code_and_no_other() {
        let documented = documented_codes();
        let unique: BTreeSet<&str> = documented.iter().copied().collect();
        assert_eq!(unique.len(), documented.len(), "a code documented twice");
        let codes: BTreeSet<&str> = Reason::ALL.iter().map(|reason| reason.as_str()).collect();
        let undocumented: Vec<_> = codes.difference(&unique).collect();
        assert!(
            undocumented.is_empty(),
            "not in docs/reasons.md: {undocumented:?}"
        );
        let unknown: Vec<_> = unique.difference(&codes).collect();
        assert!(
            unknown.is_empty(),
            "in docs/reasons.md, not in Reason: {unknown:?}"
        );
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let codes: BTreeSet<&str> = Reason::ALL.iter().map(|reason| reason.as_str()).collect();
        assert_eq!(codes.len(), Reason::ALL.len());
        for code in codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }

    /// The libraries' codes reach records and metrics unchanged: they are the contract.
    #[test]
    fn library_reasons_keep_their_codes() {
        for &reason in AccountReason::ALL {
            assert_eq!(Reason::from(reason).as_str(), reason.as_str());
        }
        for &rejection in Rejection::ALL {
            assert_eq!(Reason::from(rejection).as_str(), rejection.as_str());
        }
        for reason in DiscardReason::ALL {
            assert_eq!(Reason::from(reason).as_str(), reason.as_str());
        }
        assert_eq!(Reason::from(Skip::Overloaded).as_str(), "overloaded");
        assert_eq!(
            Reason::from(Skip::DuplicateInProgress).as_str(),
            "duplicate_in_progress"
        );
    }

    #[test]
    fn display_and_serde_give_the_code() {
        assert_eq!(Reason::Throttled.to_string(), "throttled");
        for reason in Reason::ALL {
            let json = serde_json::to_string(reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
    }
}
