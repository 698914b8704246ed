//! Telling systemd (`Type=notify`) that adgate is serving, reloading its configuration, or
//! stopping: one datagram to the socket named by `NOTIFY_SOCKET` (sd_notify(3)), written here
//! rather than pulled in as a crate because it is exactly that. Without `NOTIFY_SOCKET` (not
//! started by systemd) nothing is sent.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (e.g. `READY=1`) to the service manager, if there is one. A failure is logged,
/// never fatal: systemd then reports the start as timed out, which says enough.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let address = match path.as_encoded_bytes() {
        // A leading '@' names a socket in the abstract namespace.
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(&path),
    };
    let sent = address.and_then(|address| {
        let socket = UnixDatagram::unbound()?;
        socket.send_to_addr(state.as_bytes(), &address)
    });
    if let Err(error) = sent {
        tracing::warn!(%error, state, "could not notify the service manager");
    }
}

/// `RELOADING=1` with the `MONOTONIC_USEC` that systemd 253's `Type=notify-reload` requires
/// (older versions ignore it); `READY=1` must follow once the reload is over, applied or not.
pub fn notify_reloading() {
    notify(&reloading_message());
}

fn reloading_message() -> String {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let microseconds = now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000;
    format!("RELOADING=1\nMONOTONIC_USEC={microseconds}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reaches_the_notify_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        // The only test in this binary that touches NOTIFY_SOCKET.
        std::env::set_var("NOTIFY_SOCKET", &path);
        notify("READY=1");
        std::env::remove_var("NOTIFY_SOCKET");
        let mut received = [0u8; 64];
        let length = systemd.recv(&mut received).unwrap();
        assert_eq!(&received[..length], b"READY=1");
    }

    #[test]
    fn reloading_carries_the_monotonic_time() {
        let message = reloading_message();
        let microseconds = message
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|value| value.parse::<u64>().ok());
        assert!(microseconds.is_some_and(|value| value > 0), "{message}");
    }
}
