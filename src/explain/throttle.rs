//! The throttle's part of `adgate explain --user`: the user's familiar stations and the state of
//! each of their bad-password budgets, as the audit trail implies them — the same replay the
//! server runs at start, so this is what the running server holds (a reload changes limits, not
//! counts) without asking it. Whatever it shows, AD's verdict below is unchanged: the throttle
//! only decides whether AD is asked at all.

use std::path::Path;
use std::time::Instant;

use chrono::Utc;

use crate::throttle::{self, BudgetState, Throttle, ThrottleSettings};

/// Prints the throttle state of `user`, read from the trail in `audit_dir`.
pub fn print(audit_dir: &Path, settings: ThrottleSettings, user: &str) {
    let (now, now_utc) = (Instant::now(), Utc::now());
    let throttle = Throttle::new(settings);
    if let Err(error) = throttle::replay(&throttle, audit_dir, now, now_utc) {
        println!(
            "throttle:  not shown: the audit trail in {} cannot be read ({error:#})",
            audit_dir.display()
        );
        return;
    }
    println!(
        "throttle:  at most {} bad passwords per {} s in each budget (from the audit trail)",
        settings.max_failures,
        settings.window.as_secs()
    );
    let mut budgets = throttle
        .budgets_of(user.as_bytes(), now, now_utc)
        .into_iter();
    if let Some(strangers) = budgets.next() {
        println!(
            "  from stations not familiar to the user: {}",
            state(&strangers, "user")
        );
    }
    let familiar: Vec<BudgetState> = budgets.collect();
    if familiar.is_empty() {
        println!(
            "  familiar stations (an accept within {} days): none",
            settings.familiar_for.as_secs() / 86_400
        );
    } else {
        println!(
            "  familiar stations (an accept within {} days):",
            settings.familiar_for.as_secs() / 86_400
        );
    }
    for budget in familiar {
        println!(
            "    {}  last accept {}: {}",
            budget
                .station
                .as_ref()
                .map_or("-", |station| station.as_str()),
            budget.last_accept.map_or_else(
                || "-".to_owned(),
                |at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            state(&budget, "user_at_station")
        );
    }
}

/// One budget's failures and, while spent, how long logins it judges stay refused.
fn state(budget: &BudgetState, rule: &str) -> String {
    let failures = match budget.failures {
        1 => "1 bad password".to_owned(),
        count => format!("{count} bad passwords"),
    };
    match budget.refused_for {
        Some(left) => format!(
            "{failures}: refused as throttled (throttled_by {rule}) for another {} s",
            left.as_secs().max(1)
        ),
        None => format!("{failures}: AD is asked"),
    }
}
