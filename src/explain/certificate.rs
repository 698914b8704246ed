//! `adgate explain --cert FILE.pem`: the certificate side of a certificate login, from a file.
//! The same verifier the EAP-TLS handshake runs (chain to `eap_tls.ca_file`, signatures,
//! validity, CRLs, clientAuth EKU) and the same identity rules (SAN UPN, else SAN e-mail, else
//! — if configured — the subject's e-mail) decide; what a file cannot show is whether the
//! client holds the key, which the handshake proves.

use std::path::Path;

use adgate_authz::CertificateName;
use adgate_certs::{check_client_certificate, identity_of, IdentitySource};
use anyhow::Context;

use super::utc;
use crate::eap_tls::EapTlsLoginSettings;
use crate::reason::Reason;

/// Prints the certificate, each check and the identity. `Ok(Ok(name))`: the name the login
/// would look up in AD; `Ok(Err(reason))`: the reason code the login would be refused with
/// before AD is asked.
pub(super) fn explain(
    eap_tls: &EapTlsLoginSettings,
    file: &Path,
) -> anyhow::Result<Result<CertificateName, Reason>> {
    let tls = eap_tls
        .tls
        .as_ref()
        .context("--cert needs an [eap_tls] section in the config")?;
    let (checks, leaf) = check_client_certificate(tls, file)
        .with_context(|| format!("checking {}", file.display()))?;
    let summary = &checks.summary;
    println!("certificate: {}", file.display());
    println!("  subject:   {}", summary.subject);
    println!("  issuer:    {}", summary.issuer);
    println!("  serial:    {}", summary.serial);
    println!("  sha256:    {}", summary.sha256_fingerprint);
    println!("certificate checks, as the EAP-TLS handshake runs them:");
    let validity = checks
        .validity
        .map(|(from, to)| format!("{} to {}", utc(from), utc(to)))
        .unwrap_or_else(|| "unreadable".to_owned());
    println!("  {}  valid now: {validity}", pass(checks.within_validity));
    println!(
        "  {}  extended key usage lists clientAuth",
        pass(checks.client_auth)
    );
    let verifier = "chain to eap_tls.ca_file, signatures, validity, CRLs, clientAuth";
    match checks.verified {
        Ok(()) => println!("  pass  {verifier}"),
        Err(reason) => println!("  FAIL  {verifier} -> {reason}"),
    }
    let identity = identity_of(&leaf, eap_tls.identity_policy);
    match &identity {
        Ok(claim) => println!(
            "identity:  {} (from {}, {})",
            claim.value,
            source_text(claim.source),
            claim.source.as_str()
        ),
        Err(reason) => println!("identity:  none -> {reason}"),
    }
    if let Err(reason) = checks.verified {
        return Ok(Err(reason.into()));
    }
    let claim = match identity {
        Ok(claim) => claim,
        Err(reason) => return Ok(Err(reason.into())),
    };
    let anonymous = match eap_tls.allow_anonymous_identity {
        true => " or an anonymous one",
        false => "",
    };
    println!(
        "EAP identity: the client must send {}{anonymous} (else {})",
        claim.value,
        Reason::IdentityMismatch
    );
    Ok(Ok(if claim.source.is_upn() {
        CertificateName::Upn(claim.value)
    } else {
        CertificateName::Email(claim.value)
    }))
}

fn pass(passed: bool) -> &'static str {
    match passed {
        true => "pass",
        false => "FAIL",
    }
}

fn source_text(source: IdentitySource) -> &'static str {
    match source {
        IdentitySource::SanUpn => "the subjectAltName UPN",
        IdentitySource::SanEmail => "a subjectAltName e-mail address",
        IdentitySource::SubjectEmail => "the subject's emailAddress",
    }
}
