//! The verdict on a login: accept, or reject with one reason.
//!
//! Kept apart from [`Reason`] so that code which only needs "yes or no, and why" (the RADIUS
//! handler, the audit trail) does not depend on how the verdict was reached.

use crate::Reason;

/// Accept the login, or reject it for one [`Reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let the person in.
    Accept,
    /// Keep the person out, for this reason.
    Reject(Reason),
}
