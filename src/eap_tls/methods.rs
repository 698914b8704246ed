//! Which EAP methods adgate offers, in which order, and the one negotiation EAP has (RFC 3748
//! §5.3.1, §7.2): the server proposes its first method; a peer that will not do it answers
//! the method's first Request with a Legacy Nak listing the Types it would do, and gets the
//! first of those that is allowed here. A Nak naming nothing allowed (or Type 0, "no
//! alternative") ends the conversation. Only the first Request of a method may be Nak'ed.

use adgate_radius::eap::eap_type;

/// An EAP method adgate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EapMethod {
    /// EAP-TLS: a client certificate (RFC 5216, RFC 9190).
    Tls,
    /// PEAPv0 with EAP-MSCHAPv2 inside: a password in a server-authenticated TLS tunnel.
    Peap,
    /// EAP-MSCHAPv2 on its own, as IKEv2 gateways relay it.
    MsChapV2,
}

impl EapMethod {
    pub const ALL: [EapMethod; 3] = [EapMethod::Tls, EapMethod::Peap, EapMethod::MsChapV2];

    /// The name in `[eap] methods`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EapMethod::Tls => "tls",
            EapMethod::Peap => "peap",
            EapMethod::MsChapV2 => "mschapv2",
        }
    }

    /// Whether the method checks a password with MS-CHAPv2 (and so needs `[mschapv2]`).
    pub const fn uses_mschapv2(self) -> bool {
        matches!(self, EapMethod::Peap | EapMethod::MsChapV2)
    }

    /// Whether the method runs TLS (and so needs `[eap_tls]`'s server certificate).
    pub const fn runs_tls(self) -> bool {
        matches!(self, EapMethod::Tls | EapMethod::Peap)
    }

    /// The EAP Type (RFC 3748 §5).
    pub const fn eap_type(self) -> u8 {
        match self {
            EapMethod::Tls => eap_type::TLS,
            EapMethod::Peap => eap_type::PEAP,
            EapMethod::MsChapV2 => eap_type::MSCHAPV2,
        }
    }
}

/// The methods `[eap] methods` allows, in the order offered: never empty, no repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedMethods(Vec<EapMethod>);

impl AllowedMethods {
    /// `methods` if it is non-empty and repeats none.
    pub fn new(methods: Vec<EapMethod>) -> Option<AllowedMethods> {
        let repeats = methods
            .iter()
            .enumerate()
            .any(|(i, method)| methods.get(..i).is_some_and(|seen| seen.contains(method)));
        (!methods.is_empty() && !repeats).then_some(AllowedMethods(methods))
    }

    /// The method offered to every peer first.
    pub fn first(&self) -> EapMethod {
        self.0.first().copied().unwrap_or(EapMethod::Tls)
    }

    /// The methods, in the order offered.
    pub fn iter(&self) -> impl Iterator<Item = EapMethod> + '_ {
        self.0.iter().copied()
    }

    /// The method a Legacy Nak's Type-Data (the Types the peer desires, RFC 3748 §5.3.1) gets,
    /// `offered` having been refused: the first Type listed that is allowed here.
    pub fn after_nak(&self, desired: &[u8], offered: EapMethod) -> Option<EapMethod> {
        desired.iter().find_map(|&desired_type| {
            self.0
                .iter()
                .copied()
                .find(|method| method.eap_type() == desired_type && *method != offered)
        })
    }
}

impl std::fmt::Display for AllowedMethods {
    /// `tls, peap`: the names, in the order offered.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.iter().map(EapMethod::as_str).collect();
        f.write_str(&names.join(", "))
    }
}

impl Default for AllowedMethods {
    /// EAP-TLS only, as adgate did before methods could be chosen.
    fn default() -> Self {
        AllowedMethods(vec![EapMethod::Tls])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nak_gets_the_first_desired_method_that_is_allowed() {
        let allowed = AllowedMethods::new(vec![EapMethod::Tls, EapMethod::MsChapV2]).unwrap();
        assert_eq!(allowed.first(), EapMethod::Tls);
        assert_eq!(
            allowed.after_nak(&[eap_type::PEAP, eap_type::MSCHAPV2], EapMethod::Tls),
            Some(EapMethod::MsChapV2),
            "PEAP is not allowed, EAP-MSCHAPv2 is"
        );
        assert_eq!(allowed.after_nak(&[eap_type::PEAP], EapMethod::Tls), None);
        assert_eq!(
            allowed.after_nak(&[0], EapMethod::Tls),
            None,
            "no alternative"
        );
        assert_eq!(allowed.after_nak(&[], EapMethod::Tls), None);
        assert_eq!(
            allowed.after_nak(&[eap_type::TLS], EapMethod::Tls),
            None,
            "the method refused is not offered again"
        );
    }

    #[test]
    fn methods_are_a_non_empty_list_without_repeats() {
        assert_eq!(AllowedMethods::new(Vec::new()), None);
        assert_eq!(
            AllowedMethods::new(vec![EapMethod::Peap, EapMethod::Tls, EapMethod::Peap]),
            None
        );
        assert_eq!(AllowedMethods::default().first(), EapMethod::Tls);
        let methods = AllowedMethods::new(vec![EapMethod::MsChapV2, EapMethod::Peap]).unwrap();
        assert_eq!(methods.to_string(), "mschapv2, peap");
        assert_eq!(
            EapMethod::ALL.map(EapMethod::as_str),
            ["tls", "peap", "mschapv2"]
        );
        assert_eq!(EapMethod::ALL.map(EapMethod::eap_type), [13, 25, 26]);
    }
}
