//! What `check-config` says about `[mschapv2]`: whether winbindd on this host answers for the
//! domain, found by one check of an account that does not exist (refused as no such user:
//! ntlm_auth, winbindd, the machine trust and a DC all worked). Nothing else tells a "host not
//! joined" or "winbindd not running" apart before the first login fails.

use adgate_authz::{NtResponseCheck, NtResponseError, NtResponseRefusal, Winbind};

/// An account name no directory holds (a DC answers "no such user" for it).
const PROBE_ACCOUNT: &str = "adgate-check-config-probe";

/// `Ok` with what works, or `Err` with what is wrong and what to do, in one sentence each.
pub(crate) async fn check_winbind(winbind: &Winbind) -> Result<String, String> {
    let smb_conf = &winbind.settings().smb_conf;
    if !smb_conf.is_file() {
        return Err(format!(
            "mschapv2.smb_conf {}: no such file; this host is not set up as a domain member \
             (docs/mschapv2.md: net ads join)",
            smb_conf.display()
        ));
    }
    let probe = NtResponseCheck {
        account: PROBE_ACCOUNT,
        domain: "",
        challenge: [0; 8],
        nt_response: [0; 24],
    };
    match winbind.check_nt_response(&probe).await {
        Err(NtResponseError::Refused(NtResponseRefusal::NoSuchUser)) => {
            Ok("winbind answers for the domain (checked with an unknown account)".to_owned())
        }
        Ok(_) | Err(NtResponseError::Refused(_)) => Ok("winbind answers for the domain".to_owned()),
        Err(NtResponseError::Unavailable(why)) => Err(explain(&why)),
    }
}

/// The admin's next step for winbind's `why`.
fn explain(why: &str) -> String {
    let advice = if why.contains("Reading winbind reply failed") {
        "winbindd does not answer: start it (systemctl start winbind), and run adgate in the \
         winbindd_priv group"
    } else if why.contains("cannot start") {
        "ntlm_auth cannot be started: install winbind or fix mschapv2.ntlm_auth"
    } else if why.contains("trust") || why.contains("TRUST") {
        "this host is not joined to the domain, or its machine account is broken: net ads \
         testjoin, then net ads join"
    } else if why.contains("logon servers") || why.contains("domain controller") {
        "winbindd reaches no domain controller: check DNS and the DCs (wbinfo -P)"
    } else {
        "see the message above"
    };
    format!("mschapv2: MS-CHAPv2 logins will be refused as directory_unavailable ({why}): {advice}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_gets_its_advice() {
        for (why, advice) in [
            ("Reading winbind reply failed!", "systemctl start winbind"),
            (
                "cannot start /usr/bin/ntlm_auth: No such file",
                "install winbind",
            ),
            (
                "The logon request failed because the trust relationship between this \
                 workstation and the primary domain failed.",
                "net ads join",
            ),
            (
                "No logon servers are currently available to service the logon request.",
                "wbinfo -P",
            ),
        ] {
            let text = explain(why);
            assert!(text.contains(advice) && text.contains(why), "{text}");
        }
    }
}
