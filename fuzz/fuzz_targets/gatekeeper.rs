//! The whole request path of adgate: datagrams from a configured NAS, signed as it would sign
//! them or not, through the server's per-datagram path into the gatekeeper over an in-memory AD
//! (PAP, EAP reassembly, EAP-TLS records into rustls, accounting, Status-Server). The input
//! format is in `src/fuzzing.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| adgate::fuzzing::handle_datagrams(input));
