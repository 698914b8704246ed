//! MS-CHAPv2 logins. `login.rs` is the one step every MS-CHAPv2 method shares — RADIUS
//! MS-CHAPv2 (RFC 2548), EAP-MSCHAPv2 and PEAP's inner method: the throttle, then
//! `authz` (the account found as for PAP and judged by the policy *before* a DC is asked, then
//! the NT-Response checked through winbind), then the authenticator response and the MPPE keys
//! (RFC 2759 §8.7, RFC 3079 §3.4) computed from the key the DC returned. Each method wraps the
//! result in its own framing. Records name the method and the account, never the challenges,
//! the NT-Response or a key.

mod check;
mod eap;
mod login;
mod radius;

// `login::MsChapV2Accepted` is what `MsChapV2Verdict::Accepted` holds.
pub(crate) use check::check_winbind;
pub(crate) use eap::{MsChapV2Login, MsChapV2Outcome};
pub(crate) use login::{MsChapV2Response, MsChapV2Step, MsChapV2Verdict};
