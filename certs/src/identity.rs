//! Who a client certificate names, and only that.
//!
//! The telework policy wants every VPN login tied to one person, so a certificate counts as an
//! identity only through a name that belongs to one person: the Microsoft UPN in
//! subjectAltName (otherName 1.3.6.1.4.1.311.20.2.3), else an e-mail address in subjectAltName
//! (rfc822Name, RFC 5280 §4.2.1.6), else — only when configured — the legacy emailAddress
//! attribute of the subject (PKCS #9, deprecated by RFC 5280 §4.1.2.6). Subject CN, O, OU and
//! the issuer are never looked at: they name a team, a company or a CA, and CAs happily put
//! the same CN on many certificates. A certificate with several different names of the first
//! kind found is ambiguous and names nobody.

use x509_parser::asn1_rs::{Any, FromDer, Oid, Tag, Utf8String};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::OID_PKCS9_EMAIL_ADDRESS;

use crate::rejection::Rejection;

/// szOID_NT_PRINCIPAL_NAME, the UPN in an otherName.
const UPN_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];
/// A name longer than this is not a logon name (AD limits UPNs to 1024 UTF-16 units, but
/// RADIUS User-Names, to which the claim is compared, to 253 octets).
const MAX_NAME_BYTES: usize = 256;

/// Where the identity was found; written to the audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// subjectAltName otherName UPN.
    SanUpn,
    /// subjectAltName rfc822Name.
    SanEmail,
    /// Subject emailAddress (only when [`IdentityPolicy::subject_email`] allows it).
    SubjectEmail,
}

impl IdentitySource {
    /// The code in audit records: `san_upn`, `san_email`, `subject_email`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SanUpn => "san_upn",
            Self::SanEmail => "san_email",
            Self::SubjectEmail => "subject_email",
        }
    }

    /// Whether the directory should match the value as a UPN or as an e-mail address.
    pub fn is_upn(self) -> bool {
        self == Self::SanUpn
    }
}

/// The person a certificate names: a UPN or an e-mail address, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityClaim {
    pub value: String,
    pub source: IdentitySource,
}

impl IdentityClaim {
    /// Whether an EAP identity (RFC 3748 §5.1, as the peer typed or its software chose) names
    /// the same person. UPNs and e-mail addresses compare without regard to ASCII case, as AD
    /// does.
    pub fn named_by(&self, eap_identity: &[u8]) -> bool {
        eap_identity.eq_ignore_ascii_case(self.value.as_bytes())
    }
}

/// Which certificate names count as an identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdentityPolicy {
    /// Also accept the subject's emailAddress attribute when subjectAltName has neither a UPN
    /// nor an e-mail address.
    pub subject_email: bool,
}

/// The identity in a DER certificate, or why there is none.
pub fn identity_of(
    certificate_der: &[u8],
    policy: IdentityPolicy,
) -> Result<IdentityClaim, Rejection> {
    let (_, certificate) =
        X509Certificate::from_der(certificate_der).map_err(|_| Rejection::NoCertificateIdentity)?;
    let general_names = match certificate.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.clone(),
        Ok(None) => Vec::new(),
        // Two SAN extensions, or one that does not parse: which names would be meant?
        Err(_) => return Err(Rejection::AmbiguousCertificateIdentity),
    };
    let upn_oid = Oid::from(UPN_OID).map_err(|_| Rejection::NoCertificateIdentity)?;
    let mut upns = Vec::new();
    let mut emails = Vec::new();
    for name in &general_names {
        match name {
            GeneralName::OtherName(oid, value) if *oid == upn_oid => {
                upns.push(upn_value(value).ok_or(Rejection::NoCertificateIdentity)?);
            }
            GeneralName::RFC822Name(email) => emails.push((*email).to_owned()),
            _ => {}
        }
    }
    if !upns.is_empty() {
        return single(upns, IdentitySource::SanUpn);
    }
    if !emails.is_empty() {
        return single(emails, IdentitySource::SanEmail);
    }
    if policy.subject_email {
        let subject_emails: Vec<String> = certificate
            .subject()
            .iter_by_oid(&OID_PKCS9_EMAIL_ADDRESS)
            .map(|attribute| attribute.as_str().map(str::to_owned))
            .collect::<Result<_, _>>()
            .map_err(|_| Rejection::NoCertificateIdentity)?;
        if !subject_emails.is_empty() {
            return single(subject_emails, IdentitySource::SubjectEmail);
        }
    }
    Err(Rejection::NoCertificateIdentity)
}

/// The UPN inside an otherName value: `[0] EXPLICIT UTF8String` (MS-WCCE §2.2.2.7.10).
fn upn_value(explicit: &[u8]) -> Option<String> {
    let (rest, tagged) = Any::from_der(explicit).ok()?;
    if !rest.is_empty() || tagged.tag() != Tag(0) || !tagged.header.is_constructed() {
        return None;
    }
    let (rest, upn) = Utf8String::from_der(tagged.data).ok()?;
    rest.is_empty().then(|| upn.string())
}

/// The one distinct, plausible name of a kind, comparing case-insensitively as AD does.
fn single(mut names: Vec<String>, source: IdentitySource) -> Result<IdentityClaim, Rejection> {
    names.sort_by_key(|name| name.to_ascii_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    match names.as_slice() {
        [value] if plausible(value) => Ok(IdentityClaim {
            value: value.clone(),
            source,
        }),
        [_] => Err(Rejection::NoCertificateIdentity),
        _ => Err(Rejection::AmbiguousCertificateIdentity),
    }
}

/// `local@domain`, both parts non-empty, no control characters, not absurdly long.
fn plausible(name: &str) -> bool {
    let parts = name.split_once('@');
    name.len() <= MAX_NAME_BYTES
        && !name.chars().any(char::is_control)
        && matches!(parts, Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_pki::{TestCa, UserCertificate};

    fn identity(user: UserCertificate, policy: IdentityPolicy) -> Result<IdentityClaim, Rejection> {
        let ca = TestCa::new();
        identity_of(ca.issue(&user).der(), policy)
    }

    fn claim(value: &str, source: IdentitySource) -> Result<IdentityClaim, Rejection> {
        Ok(IdentityClaim {
            value: value.into(),
            source,
        })
    }

    #[test]
    fn upn_comes_first() {
        let user = UserCertificate::named("alice")
            .upn("alice@corp.example.test")
            .email("alice.smith@corp.example.test");
        assert_eq!(
            identity(user, IdentityPolicy::default()),
            claim("alice@corp.example.test", IdentitySource::SanUpn)
        );
    }

    #[test]
    fn san_email_when_there_is_no_upn() {
        let user = UserCertificate::named("bob").email("bob@corp.example.test");
        assert_eq!(
            identity(user, IdentityPolicy::default()),
            claim("bob@corp.example.test", IdentitySource::SanEmail)
        );
    }

    #[test]
    fn subject_email_only_when_configured() {
        let user = || UserCertificate::named("carol").subject_email("carol@corp.example.test");
        assert_eq!(
            identity(user(), IdentityPolicy::default()),
            Err(Rejection::NoCertificateIdentity)
        );
        assert_eq!(
            identity(
                user(),
                IdentityPolicy {
                    subject_email: true
                }
            ),
            claim("carol@corp.example.test", IdentitySource::SubjectEmail)
        );
    }

    #[test]
    fn cn_o_ou_and_issuer_are_never_an_identity() {
        // CN looks like a UPN and O/OU like a domain: still nobody.
        let user = UserCertificate::named("dave@corp.example.test").organization("Corp");
        for subject_email in [false, true] {
            assert_eq!(
                identity(user.clone(), IdentityPolicy { subject_email }),
                Err(Rejection::NoCertificateIdentity)
            );
        }
    }

    #[test]
    fn several_different_names_are_ambiguous() {
        let two_upns = UserCertificate::named("m")
            .upn("mallory1@corp.example.test")
            .upn("mallory2@corp.example.test");
        let two_emails = UserCertificate::named("m")
            .email("a@corp.example.test")
            .email("b@corp.example.test");
        for user in [two_upns, two_emails] {
            assert_eq!(
                identity(user, IdentityPolicy::default()),
                Err(Rejection::AmbiguousCertificateIdentity)
            );
        }
        // The same name twice, differing only in case, is one name.
        let repeated = UserCertificate::named("e")
            .email("Erin@corp.example.test")
            .email("erin@CORP.example.test");
        assert!(identity(repeated, IdentityPolicy::default()).is_ok());
    }

    #[test]
    fn implausible_names_are_no_identity() {
        for value in [
            "",
            "erin",
            "@corp.example.test",
            "erin@",
            "a@b@c",
            "erin\n@x.test",
        ] {
            let user = UserCertificate::named("x").upn(value);
            assert_eq!(
                identity(user, IdentityPolicy::default()),
                Err(Rejection::NoCertificateIdentity),
                "{value:?}"
            );
        }
    }

    #[test]
    fn a_upn_that_is_not_a_utf8_string_is_refused() {
        // [0] EXPLICIT IA5String instead of UTF8String.
        assert_eq!(upn_value(&[0xa0, 0x03, 0x16, 0x01, b'a']), None);
        // Primitive [0].
        assert_eq!(upn_value(&[0x80, 0x03, 0x0c, 0x01, b'a']), None);
        // Trailing octets.
        assert_eq!(upn_value(&[0xa0, 0x03, 0x0c, 0x01, b'a', 0]), None);
        assert_eq!(upn_value(&[0xa0, 0x03, 0x0c, 0x01, b'a']), Some("a".into()));
        assert_eq!(upn_value(&[0xa0, 0x05, 0x0c]), None);
    }

    #[test]
    fn eap_identity_comparison_ignores_ascii_case_only() {
        let claim = IdentityClaim {
            value: "Heidi.Jones@corp.example.test".into(),
            source: IdentitySource::SanUpn,
        };
        assert!(claim.named_by(b"heidi.jones@CORP.EXAMPLE.TEST"));
        assert!(!claim.named_by(b"heidi@corp.example.test"));
        assert!(!claim.named_by(b"heidi.jones@corp.example.test "));
    }
}
