//! `[eap]`: which EAP methods adgate allows and the order it offers them in. EAP-TLS and PEAP
//! run TLS with `[eap_tls]`'s server certificate, so they need `[eap_tls]`; EAP-MSCHAPv2 and
//! PEAP check passwords through winbind, so they need `[mschapv2]`. EAP-MSCHAPv2 alone needs no
//! certificate: its conversations then take `[eap_tls]`'s defaults for the table's bounds.

use std::time::Duration;

use adgate_certs::IdentityPolicy;

use super::file::{
    default_conversation_timeout_s, default_fragment_size, default_max_conversations, EapSection,
    EapTlsSection,
};
use super::{ConfigError, Validator};
use crate::eap_tls::{AllowedMethods, EapMethod, EapTlsLoginSettings};

impl Validator<'_> {
    /// The EAP settings: `[eap_tls]` with the methods `[eap]` allows (EAP-TLS alone without it).
    pub(super) fn eap(
        &self,
        eap: Option<EapSection>,
        eap_tls: Option<EapTlsSection>,
        mschapv2_configured: bool,
    ) -> Result<Option<EapTlsLoginSettings>, ConfigError> {
        let methods = match &eap {
            Some(section) => self.methods(section)?,
            None => AllowedMethods::default(),
        };
        if let (Some(section), Some(method)) =
            (&eap, methods.iter().find(|method| method.uses_mschapv2()))
        {
            if !mschapv2_configured {
                return Err(self.invalid(
                    section.methods.span(),
                    "eap.methods",
                    format!(
                        "lists `{}`, which needs an [mschapv2] section (the domain member's \
                         winbind checks its passwords)",
                        method.as_str()
                    ),
                ));
            }
        }
        let tls_method = methods.iter().find(|method| method.runs_tls());
        match (eap, eap_tls) {
            (_, Some(eap_tls)) => self.eap_tls(eap_tls, methods).map(Some),
            (Some(section), None) => match tls_method {
                Some(method) => Err(self.invalid(
                    section.methods.span(),
                    "eap.methods",
                    format!(
                        "lists `{}`, which needs an [eap_tls] section (its server certificate)",
                        method.as_str()
                    ),
                )),
                None => Ok(Some(EapTlsLoginSettings {
                    tls: None,
                    fragment_size: default_fragment_size().into_inner(),
                    identity_policy: IdentityPolicy::default(),
                    allow_anonymous_identity: false,
                    max_conversations: default_max_conversations().into_inner(),
                    conversation_timeout: Duration::from_secs(
                        default_conversation_timeout_s().into_inner(),
                    ),
                    methods,
                })),
            },
            (None, None) => Ok(None),
        }
    }

    fn methods(&self, section: &EapSection) -> Result<AllowedMethods, ConfigError> {
        let names = section.methods.get_ref();
        let invalid =
            |problem: String| self.invalid(section.methods.span(), "eap.methods", problem);
        let methods = names
            .iter()
            .map(|name| {
                EapMethod::ALL
                    .into_iter()
                    .find(|method| method.as_str() == name)
                    .ok_or_else(|| {
                        invalid(format!(
                            "names `{name}`; the methods are {}",
                            EapMethod::ALL
                                .map(|m| format!("`{}`", m.as_str()))
                                .join(", ")
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowedMethods::new(methods)
            .ok_or_else(|| invalid("must list at least one method, each once".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;
    use crate::eap_tls::{AllowedMethods, EapMethod};

    const EAP_TLS: &str = "\n[eap_tls]\ncertificate_file = \"/s.pem\"\nprivate_key_file = \"/s.key\"\nca_file = \"/ca.pem\"\n";

    #[test]
    fn methods_are_offered_in_the_order_listed_and_default_to_eap_tls() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&write_config(dir.path(), |t| t + EAP_TLS)).unwrap();
        assert_eq!(config.eap_tls.unwrap().methods, AllowedMethods::default());
        let listed = "\n[eap]\nmethods = [\"peap\", \"mschapv2\", \"tls\"]\n[mschapv2]\n";
        let config = Config::load(&write_config(dir.path(), |t| t + EAP_TLS + listed)).unwrap();
        let methods: Vec<EapMethod> = config.eap_tls.unwrap().methods.iter().collect();
        assert_eq!(
            methods,
            [EapMethod::Peap, EapMethod::MsChapV2, EapMethod::Tls]
        );
    }

    #[test]
    fn eap_mschapv2_alone_needs_no_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let alone = "\n[eap]\nmethods = [\"mschapv2\"]\n[mschapv2]\n";
        let config = Config::load(&write_config(dir.path(), |t| t + alone)).unwrap();
        let eap = config.eap_tls.unwrap();
        assert!(eap.tls.is_none());
        assert_eq!(eap.methods.first(), EapMethod::MsChapV2);
        assert_eq!(eap.max_conversations, 256);
    }

    #[test]
    fn methods_must_be_known_listed_once_and_served_by_eap_tls() {
        let error = load_error(|t| t + EAP_TLS + "\n[eap]\nmethods = [\"ttls\"]\n");
        assert!(error.contains("eap.methods"), "{error}");
        assert!(
            error.contains("`ttls`") && error.contains("`mschapv2`"),
            "{error}"
        );
        for methods in ["[]", "[\"tls\", \"tls\"]"] {
            let error = load_error(|t| t + EAP_TLS + &format!("\n[eap]\nmethods = {methods}\n"));
            assert!(error.contains("each once"), "{methods}: {error}");
        }
        let error = load_error(|t| t + "\n[eap]\nmethods = [\"mschapv2\", \"peap\"]\n[mschapv2]\n");
        assert!(
            error.contains("lists `peap`, which needs an [eap_tls] section"),
            "{error}"
        );
        let error = load_error(|t| t + EAP_TLS + "\n[eap]\nmethods = [\"tls\", \"peap\"]\n");
        assert!(
            error.contains("lists `peap`, which needs an [mschapv2] section"),
            "{error}"
        );
    }
}
