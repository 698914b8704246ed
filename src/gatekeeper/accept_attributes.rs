//! What an Access-Accept carries beyond what the login method needs: the Class that names the
//! decision record (RFC 2865 §5.25), which the NAS echoes in the session's accounting, and the
//! per-group attributes of `[[policy.reply]]` — Filter-Id (RFC 2865 §5.11), Session-Timeout
//! (§5.27) and Framed-Pool (RFC 2869 §5.18), plus a suffix to the Class.
//!
//! adgate's Class is `adgate:<request_id>` or, with a group's suffix, `adgate:<request_id>:<suffix>`;
//! accounting reads the decision's `request_id` back from either.

use adgate_authz::ReplyAttributes;
use adgate_radius::{InvalidReplyAttribute, Reply, ReplyAttribute};

use crate::decision::Decided;
use crate::reason::Reason;

/// What adgate's Class attributes start with; the decision's `request_id` follows.
const CLASS_PREFIX: &str = "adgate:";

/// Separates the `request_id` from a group's suffix in the Class.
const SUFFIX_SEPARATOR: char = ':';

/// Adds the per-group attributes to an accept. One that cannot be encoded turns the accept
/// into a reject: the user never gets in without the filter or limit meant for them.
pub(crate) fn with_group_attributes(decided: Decided) -> Decided {
    let Decided::Accept(mut accept) = decided else {
        return decided;
    };
    match group_attributes(&accept.reply) {
        Ok(attributes) => {
            accept.attributes.extend(attributes);
            Decided::Accept(accept)
        }
        Err(error) => {
            tracing::error!(%error, reply = ?accept.reply, "reply attributes cannot be encoded");
            Decided::Reject(accept.refused(Reason::ReplyUnencodable))
        }
    }
}

/// The per-group attributes, encoded. Only accepts carry them: Session-Timeout in an
/// Access-Challenge would mean something else (the EAP retransmission timer, RFC 3579 §2.6.1).
fn group_attributes(reply: &ReplyAttributes) -> Result<Vec<ReplyAttribute>, InvalidReplyAttribute> {
    let mut attributes = Vec::new();
    if let Some(filter_id) = &reply.filter_id {
        attributes.push(ReplyAttribute::filter_id(filter_id)?);
    }
    if let Some(seconds) = reply.session_timeout {
        attributes.push(ReplyAttribute::session_timeout(seconds));
    }
    if let Some(pool) = &reply.framed_pool {
        attributes.push(ReplyAttribute::framed_pool(pool)?);
    }
    Ok(attributes)
}

/// An Access-Accept carrying `attributes` and a Class that names the decision record, with the
/// group's suffix if one applies.
pub(crate) fn accept_naming(
    request_id: &str,
    class_suffix: Option<&str>,
    mut attributes: Vec<ReplyAttribute>,
) -> Reply {
    let class = match class_suffix {
        Some(suffix) => format!("{CLASS_PREFIX}{request_id}{SUFFIX_SEPARATOR}{suffix}"),
        None => format!("{CLASS_PREFIX}{request_id}"),
    };
    // A UUID and a suffix of at most 64 octets (config) stay far below 253 octets.
    attributes.extend(ReplyAttribute::class(class.into_bytes()));
    Reply::Accept { attributes }
}

/// The decision `request_id` in a Class adgate wrote, with or without a suffix, if this is one.
pub(crate) fn decision_named(class: &[u8]) -> Option<String> {
    let named = std::str::from_utf8(class)
        .ok()?
        .strip_prefix(CLASS_PREFIX)?;
    let id = named
        .split_once(SUFFIX_SEPARATOR)
        .map_or(named, |(id, _suffix)| id);
    uuid::Uuid::parse_str(id).ok().map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Accept, Login, Method};

    fn class_of(reply: &Reply) -> &[u8] {
        let Reply::Accept { attributes } = reply else {
            panic!("an accept");
        };
        let class = attributes.iter().find(|a| a.attribute_type() == 25);
        class.expect("a Class").value()
    }

    #[test]
    fn a_class_written_by_adgate_names_its_decision() {
        let id = uuid::Uuid::now_v7().to_string();
        let reply = accept_naming(&id, None, Vec::new());
        assert_eq!(class_of(&reply), format!("adgate:{id}").as_bytes());
        assert_eq!(decision_named(class_of(&reply)), Some(id));
        assert_eq!(decision_named(b"adgate:not-a-uuid"), None);
        assert_eq!(decision_named(b"someone-else's class"), None);
    }

    #[test]
    fn a_suffixed_class_still_names_its_decision() {
        let id = uuid::Uuid::now_v7().to_string();
        let reply = accept_naming(&id, Some("eng"), Vec::new());
        assert_eq!(class_of(&reply), format!("adgate:{id}:eng").as_bytes());
        assert_eq!(decision_named(class_of(&reply)), Some(id.clone()));
        assert_eq!(decision_named(format!("adgate:{id}x:eng").as_bytes()), None);
    }

    #[test]
    fn group_attributes_are_encoded_by_their_rfc_types() {
        let reply = ReplyAttributes {
            filter_id: Some("vpn-engineering".into()),
            class_suffix: Some("eng".into()),
            session_timeout: Some(28800),
            framed_pool: Some("eng-pool".into()),
        };
        let encoded: Vec<(u8, Vec<u8>)> = group_attributes(&reply)
            .unwrap()
            .iter()
            .map(|a| (a.attribute_type(), a.value().to_vec()))
            .collect();
        assert_eq!(
            encoded,
            vec![
                (11, b"vpn-engineering".to_vec()),
                (27, 28800u32.to_be_bytes().to_vec()),
                (88, b"eng-pool".to_vec()),
            ]
        );
        assert!(group_attributes(&ReplyAttributes::default())
            .unwrap()
            .is_empty());
    }

    fn pap_accept(reply: ReplyAttributes) -> Decided {
        Decided::Accept(Accept {
            login: Login::by(Method::Pap),
            attributes: Vec::new(),
            reject_attributes: Vec::new(),
            reply,
        })
    }

    #[test]
    fn an_accept_whose_group_attributes_cannot_be_encoded_is_refused() {
        let too_long = ReplyAttributes {
            filter_id: Some("f".repeat(254)),
            ..ReplyAttributes::default()
        };
        let decided = with_group_attributes(pap_accept(too_long));
        assert_eq!(decided.reason(), Some(Reason::ReplyUnencodable));
        assert!(
            decided.reply_attributes().is_none(),
            "a reject lists no reply"
        );
        let fitting = ReplyAttributes {
            filter_id: Some("vpn-engineering".into()),
            ..ReplyAttributes::default()
        };
        let Decided::Accept(accept) = with_group_attributes(pap_accept(fitting)) else {
            panic!("refused");
        };
        assert_eq!(accept.attributes.len(), 1);
    }
}
