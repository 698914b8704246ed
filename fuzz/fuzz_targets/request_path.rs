//! The whole request path (admission checks, response cache, handler with an in-memory
//! directory, response encoding) on arbitrary datagrams, signed or not.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| adgate_radius::fuzzing::request_path(input));
