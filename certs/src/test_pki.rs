//! A throw-away PKI for tests (feature `test-pki`): a user CA, a server certificate, user
//! certificates shaped to each rule (UPN, e-mail, subject e-mail, CN only, expired, serverAuth
//! only, revoked), and CRLs, made with rcgen so no test depends on files someone once made.
//!
//! Test support, compiled only for tests: a certificate that cannot be made fails the test that
//! wanted it, hence the `expect`s.
#![allow(clippy::expect_used)]

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams,
    CertificateRevocationListParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose,
    IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType,
    SerialNumber,
};

/// PKCS #9 emailAddress (RFC 2985).
const EMAIL_ADDRESS: &[u64] = &[1, 2, 840, 113_549, 1, 9, 1];
/// szOID_NT_PRINCIPAL_NAME.
const UPN: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];

/// A certificate authority that issues user and server certificates.
pub struct TestCa {
    certificate: Certificate,
    key: KeyPair,
}

/// A certificate with its private key, as PEM and DER.
pub struct Issued {
    certificate: Certificate,
    key: KeyPair,
}

/// What a user certificate should say.
#[derive(Debug, Clone)]
pub struct UserCertificate {
    common_name: String,
    organization: Option<String>,
    upns: Vec<String>,
    emails: Vec<String>,
    subject_email: Option<String>,
    extended_key_usage: Vec<ExtendedKeyUsagePurpose>,
    expired: bool,
    serial: u64,
}

impl UserCertificate {
    /// A clientAuth certificate with subject CN `common_name` and nothing else.
    pub fn named(common_name: &str) -> UserCertificate {
        UserCertificate {
            common_name: common_name.into(),
            organization: None,
            upns: Vec::new(),
            emails: Vec::new(),
            subject_email: None,
            extended_key_usage: vec![ExtendedKeyUsagePurpose::ClientAuth],
            expired: false,
            serial: 1,
        }
    }

    pub fn upn(mut self, upn: &str) -> Self {
        self.upns.push(upn.into());
        self
    }

    pub fn email(mut self, email: &str) -> Self {
        self.emails.push(email.into());
        self
    }

    pub fn subject_email(mut self, email: &str) -> Self {
        self.subject_email = Some(email.into());
        self
    }

    pub fn organization(mut self, organization: &str) -> Self {
        self.organization = Some(organization.into());
        self
    }

    /// Extended Key Usage serverAuth only.
    pub fn server_auth_only(mut self) -> Self {
        self.extended_key_usage = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self
    }

    /// No Extended Key Usage extension at all (webpki would accept it for any purpose).
    pub fn no_extended_key_usage(mut self) -> Self {
        self.extended_key_usage = Vec::new();
        self
    }

    /// Valid 2020-01-01 to 2021-01-01 only.
    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    pub fn serial(mut self, serial: u64) -> Self {
        self.serial = serial;
        self
    }
}

impl TestCa {
    /// A CA named "adgate test user CA".
    pub fn new() -> TestCa {
        TestCa::named("adgate test user CA")
    }

    pub fn named(common_name: &str) -> TestCa {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2099, 12, 31);
        let key = KeyPair::generate().expect("CA key");
        let certificate = params.self_signed(&key).expect("CA certificate");
        TestCa { certificate, key }
    }

    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// A user certificate as `user` describes it.
    pub fn issue(&self, user: &UserCertificate) -> Issued {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&user.common_name);
        if let Some(organization) = &user.organization {
            params
                .distinguished_name
                .push(DnType::OrganizationName, organization.as_str());
        }
        if let Some(email) = &user.subject_email {
            params.distinguished_name.push(
                DnType::CustomDnType(EMAIL_ADDRESS.to_vec()),
                DnValue::Ia5String(email.as_str().try_into().expect("ASCII e-mail")),
            );
        }
        params.subject_alt_names =
            user.upns
                .iter()
                .map(|upn| SanType::OtherName((UPN.to_vec(), upn.as_str().into())))
                .chain(user.emails.iter().map(|email| {
                    SanType::Rfc822Name(email.as_str().try_into().expect("ASCII e-mail"))
                }))
                .collect();
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = user.extended_key_usage.clone();
        params.serial_number = Some(SerialNumber::from(user.serial));
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = if user.expired {
            date_time_ymd(2021, 1, 1)
        } else {
            date_time_ymd(2099, 12, 31)
        };
        self.sign(params)
    }

    /// A serverAuth certificate for `dns_name`.
    pub fn issue_server(&self, dns_name: &str) -> Issued {
        let mut params = CertificateParams::new(vec![dns_name.into()]).expect("server name");
        params.distinguished_name = name(dns_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2099, 12, 31);
        self.sign(params)
    }

    /// A CRL revoking `serials`, valid until 2099.
    pub fn crl_pem(&self, serials: &[u64]) -> String {
        revocation_list_pem(&self.certificate, &self.key, serials)
    }

    fn sign(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().expect("key");
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("certificate");
        Issued { certificate, key }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl Issued {
    pub fn der(&self) -> &[u8] {
        self.certificate.der()
    }

    pub fn certificate_pem(&self) -> String {
        self.certificate.pem()
    }

    /// The private key, PKCS #8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

/// A CRL from `issuer` (signed with `issuer_key`) revoking `serials`, valid until 2099.
pub fn revocation_list_pem(issuer: &Certificate, issuer_key: &KeyPair, serials: &[u64]) -> String {
    let params = CertificateRevocationListParams {
        this_update: date_time_ymd(2024, 1, 1),
        next_update: date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|&serial| RevokedCertParams {
                serial_number: SerialNumber::from(serial),
                revocation_time: date_time_ymd(2024, 1, 1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(issuer, issuer_key)
        .and_then(|crl| crl.pem())
        .expect("CRL")
}
