//! SIGHUP with its sender. tokio's signal streams say only that a signal came; the config
//! record wants who sent it. The kernel puts the sender's pid and uid in the signal's siginfo
//! (`si_pid`, `si_uid`, sigaction(2) with SA_SIGINFO, for signals sent by kill(2)); signal-hook's
//! `WithOrigin` reads them in its handler without any unsafe code here. Its iterator blocks, so
//! it runs on a thread of its own and hands each signal to the async side over a channel.
//! Signals that come together are coalesced (POSIX keeps one pending SIGHUP): the sender is the
//! latest one's. A signal from the kernel itself (no sending process) has no sender: `unknown`.

use nix::unistd::{Uid, User};
use signal_hook::consts::SIGHUP;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::{Handle, SignalsInfo};
use tokio::sync::mpsc;

use crate::audit::Trigger;

/// SIGHUPs as they come, each with who sent it.
pub struct ReloadSignals {
    received: mpsc::UnboundedReceiver<Trigger>,
    handle: Handle,
}

impl ReloadSignals {
    /// Installs the SIGHUP handler (from now on a SIGHUP no longer ends the process) and starts
    /// the thread that waits for signals.
    pub fn install() -> std::io::Result<ReloadSignals> {
        let mut signals = SignalsInfo::<WithOrigin>::new([SIGHUP])?;
        let handle = signals.handle();
        let (sender, received) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("sighup".into())
            .spawn(move || {
                for origin in signals.forever() {
                    let sender_process = origin.process.map(|process| (process.pid, process.uid));
                    if sender.send(trigger(sender_process)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(ReloadSignals { received, handle })
    }

    /// The next SIGHUP's sender; pending forever once the signal thread is gone.
    pub async fn recv(&mut self) -> Trigger {
        match self.received.recv().await {
            Some(trigger) => trigger,
            None => std::future::pending().await,
        }
    }
}

impl Drop for ReloadSignals {
    fn drop(&mut self) {
        // Ends the signal thread's iterator.
        self.handle.close();
    }
}

/// The trigger of a SIGHUP from the process `(pid, uid)`, if the kernel named one.
fn trigger(process: Option<(i32, u32)>) -> Trigger {
    let mut trigger = Trigger::named("sighup");
    match process {
        Some((pid, uid)) => {
            trigger.sender_pid = Some(pid);
            trigger.sender_uid = Some(uid);
            trigger.sender_user = User::from_uid(Uid::from_raw(uid))
                .ok()
                .flatten()
                .map(|user| user.name);
        }
        None => trigger.sender = Some("unknown"),
    }
    trigger
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_is_named_or_said_unknown() {
        let known = trigger(Some((42, 0)));
        assert_eq!((known.sender_pid, known.sender_uid), (Some(42), Some(0)));
        assert_eq!(known.sender_user.as_deref(), Some("root"));
        assert_eq!(known.sender, None);
        let unknown = trigger(None);
        assert_eq!(unknown.sender, Some("unknown"));
        assert_eq!(unknown.sender_pid, None);
    }
}
