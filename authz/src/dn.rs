//! Whether one DN lies under another, compared as AD compares DNs: RDN by RDN, attribute types
//! and values without regard to case, spaces around `,` and `=` not significant (RFC 4514 §2).
//!
//! A live session is re-checked by objectGUID, which finds the object wherever it is in the
//! domain; a login only searches under the configured `base_dn`. This comparison keeps the two
//! in step: an account moved out of `base_dn` is gone for adgate either way. DNs from the DC
//! come in its normal form; only the configured base DN may be spelled loosely. Not handled (not
//! produced by AD, and unusual in a base DN): one character written as a `\XX` hex escape on one
//! side and as `\c` or itself on the other.

/// Whether `dn` is `base` or an object below it.
pub(crate) fn is_within(dn: &str, base: &str) -> bool {
    let (dn, base) = (rdns(dn), rdns(base));
    dn.ends_with(&base)
}

/// The RDNs of `dn`, each as `type=value`, lowercase, without the spaces around `=`.
fn rdns(dn: &str) -> Vec<String> {
    let mut rdns = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        match c {
            ',' if !escaped => rdns.push(normal_rdn(&std::mem::take(&mut current))),
            _ => {
                escaped = c == '\\' && !escaped;
                current.push(c);
            }
        }
    }
    rdns.push(normal_rdn(&current));
    rdns
}

fn normal_rdn(rdn: &str) -> String {
    let rdn = rdn.to_lowercase();
    match rdn.split_once('=') {
        Some((kind, value)) => format!("{}={}", kind.trim(), trim_value(value)),
        None => rdn.trim().to_owned(),
    }
}

/// The value without leading spaces and without trailing ones that are not escaped (`\ `).
fn trim_value(value: &str) -> &str {
    let value = value.trim_start();
    let mut end = value.len();
    while value[..end].ends_with(' ') && !value[..end - 1].ends_with('\\') {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "DC=corp,DC=example,DC=test";

    #[test]
    fn objects_under_the_base_are_within() {
        assert!(is_within(
            "CN=alice,CN=Users,DC=corp,DC=example,DC=test",
            BASE
        ));
        assert!(is_within(BASE, BASE));
        assert!(is_within(
            "CN=alice,OU=Staff,DC=corp,DC=example,DC=test",
            "OU=Staff,DC=corp,DC=example,DC=test"
        ));
    }

    #[test]
    fn objects_elsewhere_are_not() {
        assert!(!is_within(
            "CN=alice,OU=Leavers,DC=corp,DC=example,DC=test",
            "OU=Staff,DC=corp,DC=example,DC=test"
        ));
        assert!(!is_within("DC=example,DC=test", BASE));
        // A suffix of the text, not of the RDNs.
        assert!(!is_within("CN=alice,DC=xcorp,DC=example,DC=test", BASE));
        assert!(!is_within(
            "CN=alice,OU=a\\,DC=corp,DC=example,DC=test",
            "DC=corp,DC=example,DC=test,DC=x"
        ));
    }

    #[test]
    fn case_and_spaces_do_not_matter() {
        assert!(is_within(
            "CN=alice,CN=Users,DC=corp,DC=example,DC=test",
            "dc=Corp, dc = EXAMPLE ,  DC=test"
        ));
        assert!(is_within(
            "CN=Jürgen,OU=Büro,DC=corp,DC=example,DC=test",
            "ou=BÜRO,DC=corp,DC=example,DC=test"
        ));
    }

    #[test]
    fn escaped_commas_and_spaces_stay_in_their_value() {
        let base = "OU=Home\\, Office,DC=corp,DC=example,DC=test";
        assert!(is_within(
            "CN=alice,OU=Home\\, Office,DC=corp,DC=example,DC=test",
            base
        ));
        assert!(!is_within(
            "CN=alice,OU=Office,OU=Home,DC=corp,DC=example,DC=test",
            base
        ));
        assert!(!is_within("CN=a,OU=x\\ ,DC=test", "OU=x,DC=test"));
        assert!(is_within("CN=a,OU=x\\ ,DC=test", "OU=x\\ , DC=test"));
        assert!(is_within("CN=a\\\\,OU=x,DC=test", "OU=x,DC=test"));
    }
}
