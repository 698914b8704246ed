//! The group side of `adgate explain`: the path by which the account is in a group (telework or
//! a `[[policy.reply]]` group), and which reply entries apply with the attributes an accept
//! would carry — chosen by the same rule and the same membership searches as a login.

use std::collections::BTreeSet;

use adgate_authz::{
    select_reply, AccountSummary, Authorizer, Outcome, ReplyAttributes, ReplyRule,
    MAX_GROUP_PATH_DEPTH,
};

/// Prints `path: account → group → … → group`, indented by `indent`.
pub(super) async fn print_path(
    authorizer: &Authorizer,
    account: &AccountSummary,
    group: &str,
    indent: &str,
) {
    match authorizer.group_path(&account.dn, group).await {
        Ok(Some(path)) => println!(
            "{indent}path: {} → {}",
            account.sam_account_name,
            path.join(" → ")
        ),
        Ok(None) => println!(
            "{indent}path: not found within {MAX_GROUP_PATH_DEPTH} levels of memberOf \
             (the primary group is not listed there)"
        ),
        Err(error) => println!("{indent}path: not readable ({error})"),
    }
}

/// Prints each `[[policy.reply]]` entry with whether the account is in its group, and what an
/// accept would carry. `Err` is the refusal a login gets when AD cannot say.
pub(super) async fn print_reply(
    authorizer: &Authorizer,
    account: &AccountSummary,
    rules: &[ReplyRule],
) -> Result<(), Box<Outcome>> {
    if rules.is_empty() {
        println!("reply:     no [[policy.reply]] entries");
        return Ok(());
    }
    let member_of = authorizer.explain_reply_groups(account).await?;
    println!("reply attributes ([[policy.reply]]; per attribute, the first matching entry wins):");
    for (index, rule) in rules.iter().enumerate() {
        let member = member_of.contains(&rule.group);
        let state = match member {
            true => "member".to_owned(),
            false => match authorizer.group_exists(&rule.group).await {
                Ok(true) => "not a member".to_owned(),
                Ok(false) => "no such group (check the DN)".to_owned(),
                Err(error) => format!("not a member (whether the group exists: {error})"),
            },
        };
        println!("  [{index}] {}: {state}", rule.group);
        if member {
            print_path(authorizer, account, &rule.group, "    ").await;
        }
        println!("    sets: {}", described(&rule.attributes));
    }
    let member_of: BTreeSet<&str> = member_of.iter().map(String::as_str).collect();
    let selected = select_reply(rules, &member_of);
    match selected.is_empty() {
        true => println!("  an accept carries: no group attributes"),
        false => println!("  an accept carries: {}", described(&selected)),
    }
    Ok(())
}

/// The attributes by their RADIUS names.
fn described(attributes: &ReplyAttributes) -> String {
    let mut parts = Vec::new();
    if let Some(filter_id) = &attributes.filter_id {
        parts.push(format!("Filter-Id {filter_id:?}"));
    }
    if let Some(suffix) = &attributes.class_suffix {
        parts.push(format!("Class adgate:<request_id>:{suffix}"));
    }
    if let Some(seconds) = attributes.session_timeout {
        parts.push(format!("Session-Timeout {seconds}"));
    }
    if let Some(pool) = &attributes.framed_pool {
        parts.push(format!("Framed-Pool {pool:?}"));
    }
    parts.join(", ")
}
