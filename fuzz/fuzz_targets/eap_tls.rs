//! One EAP-TLS conversation on the server side: EAP-TLS framing and reassembly, and rustls'
//! server fed arbitrary records. The input format is in `certs/src/fuzzing.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| adgate_certs::fuzzing::eap_tls_conversation(input));
