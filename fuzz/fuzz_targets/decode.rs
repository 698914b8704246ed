//! Packet decoding: every parser and authenticator check on arbitrary datagrams.
#![no_main]

libfuzzer_sys::fuzz_target!(|datagram: &[u8]| adgate_radius::fuzzing::decode(datagram));
