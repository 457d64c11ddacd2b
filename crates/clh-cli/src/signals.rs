//! SIGTERM, SIGINT and SIGHUP for `clh write`: stop reading, write everything read,
//! exit 0.
//!
//! Design: no signal handler at all. [`Watch::start`] blocks the three signals in the
//! calling thread (every thread started after it inherits the mask; the core's own
//! threads block every signal anyway), and a dedicated thread takes them with
//! `sigwait`. That thread runs ordinary code: it records the signal and writes a
//! byte to a pipe, which wakes the reading thread's `poll` (see `input.rs`). Nothing
//! process-wide changes: no disposition is replaced, so nothing has to be restored
//! but the calling thread's mask, which [`Watch::stop`] puts back exactly as it was.
//! That matters because the same code runs inside a Python process (the wheel's
//! `clh` command): Python's own SIGINT handler stays installed, and is simply not
//! run while `clh write` has the signal blocked and takes it itself.
//!
//! Why not a handler (signal-hook and the like)? A handler is process-wide, cannot
//! be uninstalled cleanly once another library chained onto it, and may only do
//! async-signal-safe things; `sigwait` needs none of that.
//!
//! Details:
//! * a signal whose disposition is `SIG_IGN` when `clh write` starts (nohup; `sh`
//!   running a job with `&`) is left alone: it stays ignored, as the parent wanted;
//! * a signal that arrives after the work is done, before the mask is restored, is
//!   taken here (it asked for what has just happened: the end) rather than being
//!   delivered to the default action, which would turn a clean exit 0 into death by
//!   signal;
//! * a second signal at least [`FORCE_AFTER`] after the first ends the process at
//!   once, with exit code 1: the one place where this library exits the process
//!   itself, for a writer stuck behind another process's lock. Closer together
//!   (Ctrl-C pressed twice, or a terminal's SIGHUP and a shell's SIGTERM) they count
//!   as one request, and nothing read is lost;
//! * in a process with other threads that do not block these signals (a
//!   multi-threaded Python program calling `run`), the kernel may deliver a signal to
//!   one of them instead: it then gets that thread's usual treatment.

use std::time::{Duration, Instant};

/// How long after the first signal a second one forces an immediate exit.
#[cfg_attr(not(unix), allow(dead_code))]
pub const FORCE_AFTER: Duration = Duration::from_secs(1);

#[cfg(unix)]
pub use unix::Watch;

#[cfg(not(unix))]
pub use other::Watch;

/// The name of a signal, for messages.
#[cfg(unix)]
pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The first signal received, and when.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(unix), allow(dead_code))]
pub struct Received {
    pub signal: i32,
    pub at: Instant,
}

#[cfg(unix)]
mod unix {
    use super::{name, Received, FORCE_AFTER};
    use std::io::{self, Write as _};
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
    use std::os::unix::thread::JoinHandleExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, PoisonError};
    use std::thread::JoinHandle;
    use std::time::Instant;

    const SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

    /// Watches SIGTERM, SIGINT and SIGHUP from a `sigwait` thread while it lives.
    pub struct Watch {
        active: Option<Active>,
    }

    struct Active {
        /// The signals taken (those not ignored at start).
        set: libc::sigset_t,
        /// The calling thread's mask before, restored by `stop`.
        old_mask: libc::sigset_t,
        thread: JoinHandle<()>,
        shared: Arc<Shared>,
        /// Readable once a signal was received.
        wake: OwnedFd,
    }

    struct Shared {
        done: AtomicBool,
        received: Mutex<Option<Received>>,
    }

    impl Watch {
        /// Block the signals that are not ignored in this thread and start the
        /// thread that takes them. If that fails, the signals keep their usual
        /// treatment (and the caller is told why).
        pub fn start() -> io::Result<Watch> {
            // SAFETY: plain libc calls on local, initialised signal sets and
            // `sigaction` structures; the pipe's descriptors are owned right away.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                let mut any = false;
                for sig in SIGNALS {
                    let mut current: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(sig, std::ptr::null(), &mut current) == 0
                        && current.sa_sigaction == libc::SIG_IGN
                    {
                        continue; // ignored by the parent's wish: leave it so
                    }
                    libc::sigaddset(&mut set, sig);
                    any = true;
                }
                if !any {
                    return Ok(Watch { active: None });
                }
                let mut fds = [0 as libc::c_int; 2];
                if libc::pipe(fds.as_mut_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                let (read, write) = (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]));
                for fd in [&read, &write] {
                    libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
                }
                let flags = libc::fcntl(write.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(write.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);

                let mut old_mask: libc::sigset_t = std::mem::zeroed();
                let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask);
                if rc != 0 {
                    return Err(io::Error::from_raw_os_error(rc));
                }
                let shared = Arc::new(Shared {
                    done: AtomicBool::new(false),
                    received: Mutex::new(None),
                });
                let for_thread = Arc::clone(&shared);
                // The thread inherits the mask just set: sigwait needs the signals
                // blocked in it too.
                let spawned = std::thread::Builder::new()
                    .name("clh-signals".into())
                    .spawn(move || wait_loop(set, &for_thread, &write));
                match spawned {
                    Ok(thread) => Ok(Watch {
                        active: Some(Active {
                            set,
                            old_mask,
                            thread,
                            shared,
                            wake: read,
                        }),
                    }),
                    Err(e) => {
                        libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
                        Err(e)
                    }
                }
            }
        }

        /// A watch that watches nothing (when `start` failed).
        pub fn none() -> Watch {
            Watch { active: None }
        }

        /// A descriptor that becomes readable once a signal was received.
        pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
            self.active.as_ref().map(|a| {
                use std::os::fd::AsFd;
                a.wake.as_fd()
            })
        }

        /// The first signal received, if any.
        pub fn received(&self) -> Option<Received> {
            let active = self.active.as_ref()?;
            *active
                .shared
                .received
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        }

        /// Stop the thread, take any of the signals still pending, and restore the
        /// calling thread's signal mask.
        pub fn stop(mut self) {
            self.stop_now();
        }

        fn stop_now(&mut self) {
            let Some(active) = self.active.take() else {
                return;
            };
            active.shared.done.store(true, Ordering::SeqCst);
            // SAFETY: the thread is alive until it sees `done` after a signal, and
            // its pthread_t stays valid until it is joined below; the signal is one
            // of the blocked set, so it only wakes that thread's sigwait.
            unsafe {
                let wake_sig = SIGNALS
                    .into_iter()
                    .find(|&s| libc::sigismember(&active.set, s) == 1)
                    .unwrap_or(libc::SIGTERM);
                libc::pthread_kill(active.thread.as_pthread_t(), wake_sig);
            }
            let _ = active.thread.join();
            // SAFETY: libc calls on initialised signal sets owned here.
            unsafe {
                loop {
                    let mut pending: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut pending);
                    libc::sigpending(&mut pending);
                    let Some(sig) = SIGNALS.into_iter().find(|&s| {
                        libc::sigismember(&active.set, s) == 1
                            && libc::sigismember(&pending, s) == 1
                    }) else {
                        break;
                    };
                    let mut one: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut one);
                    libc::sigaddset(&mut one, sig);
                    let mut got = 0;
                    libc::sigwait(&one, &mut got);
                }
                libc::pthread_sigmask(libc::SIG_SETMASK, &active.old_mask, std::ptr::null_mut());
            }
        }
    }

    impl Drop for Watch {
        fn drop(&mut self) {
            self.stop_now();
        }
    }

    fn wait_loop(set: libc::sigset_t, shared: &Shared, wake: &OwnedFd) {
        loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is initialised; `sig` is a valid out pointer.
            let rc = unsafe { libc::sigwait(&set, &mut sig) };
            if shared.done.load(Ordering::SeqCst) {
                return;
            }
            if rc != 0 {
                continue;
            }
            let now = Instant::now();
            let mut received = shared
                .received
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match *received {
                None => {
                    *received = Some(Received {
                        signal: sig,
                        at: now,
                    });
                    drop(received);
                    // SAFETY: writing one byte from a live buffer to an owned fd.
                    unsafe {
                        libc::write(wake.as_raw_fd(), b"s".as_ptr().cast(), 1);
                    }
                }
                Some(first) if now.duration_since(first.at) >= FORCE_AFTER => {
                    let _ = writeln!(
                        io::stderr().lock(),
                        "clh write: {} after {}: exiting at once; records not written yet are lost",
                        name(sig),
                        name(first.signal)
                    );
                    std::process::exit(crate::EXIT_FAILURE);
                }
                Some(_) => {} // the same request, repeated: nothing to add
            }
        }
    }
}

#[cfg(not(unix))]
mod other {
    //! Without Unix signals: Ctrl-C has its usual effect (the console ends the
    //! process); end of input is the way to stop.
    use super::Received;

    pub struct Watch;

    impl Watch {
        pub fn start() -> std::io::Result<Watch> {
            Ok(Watch)
        }

        pub fn none() -> Watch {
            Watch
        }

        pub fn received(&self) -> Option<Received> {
            None
        }

        pub fn stop(self) {}
    }
}
