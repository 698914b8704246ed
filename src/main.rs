//! The `adgate` command: everything it does is in the library (`lib.rs`), so that the fuzz
//! targets can reach the request path; this only turns the outcome into the exit status.

use std::process::ExitCode;

fn main() -> ExitCode {
    adgate::run()
}
