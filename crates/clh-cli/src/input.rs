//! Standard input for `clh write`, read so that a signal can end the wait.
//!
//! On Unix the reading thread `poll`s standard input together with the signal
//! watcher's pipe (`signals.rs`): it never sits in a `read` that a signal would have
//! to interrupt, and it reads only when `poll` says that a `read` will not block.
//! Standard input is read through its descriptor, one `read` per call, straight into
//! the caller's buffer (no buffering of our own), and its flags (blocking or not: the
//! descriptor is shared with the parent) are never changed. Where `poll` does not
//! work on standard input (a device on macOS), or elsewhere than Unix, it is read
//! with blocking reads: a signal is then noticed at the next input or at its end.

use std::io;

/// What a `read` gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// This many bytes, at the start of the buffer.
    Data(usize),
    /// End of input.
    Eof,
}

/// What `poll` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code))] // only `Input` without Unix signals
pub enum Ready {
    /// Standard input can be read (or cannot be watched: a read may block).
    Input,
    /// A signal asked us to stop.
    Signal,
    /// Nothing yet (only when not waiting).
    Nothing,
}

#[cfg(unix)]
pub use unix::Input;

#[cfg(not(unix))]
pub use other::Input;

#[cfg(unix)]
mod unix {
    use super::{Event, Ready};
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

    pub struct Input<'a> {
        wake: Option<BorrowedFd<'a>>,
        /// Set when `poll` refused standard input: blocking reads from then on.
        blocking: bool,
    }

    const STDIN: RawFd = 0;

    /// The capacity asked of a pipe on standard input: Linux's limit for an
    /// unprivileged process (`/proc/sys/fs/pipe-max-size`, 1 MiB by default).
    #[cfg(target_os = "linux")]
    pub const PIPE_BYTES: libc::c_int = 1 << 20;

    /// Grow the pipe on standard input, if it is one, to [`PIPE_BYTES`]. Failing
    /// (not a pipe, a lower system limit) changes nothing.
    #[cfg(target_os = "linux")]
    fn grow_pipe() {
        // SAFETY: fstat fills a zeroed, live struct; F_SETPIPE_SZ only resizes a pipe.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(STDIN, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO {
                libc::fcntl(STDIN, libc::F_SETPIPE_SZ, PIPE_BYTES);
            }
        }
    }

    impl<'a> Input<'a> {
        /// Standard input, with the signal watcher's pipe (if any). A pipe is asked
        /// to hold [`PIPE_BYTES`] (Linux; best effort): each `poll` + `read` pair then
        /// takes up to 16 times more than the default 64 KiB, and the program
        /// feeding us blocks less often.
        pub fn stdin(wake: Option<BorrowedFd<'a>>) -> Self {
            #[cfg(target_os = "linux")]
            grow_pipe();
            Input {
                wake,
                blocking: false,
            }
        }

        /// Whether reads may block (standard input cannot be watched): then
        /// [`poll`](Self::poll) always says [`Ready::Input`].
        pub fn blocking(&self) -> bool {
            self.blocking
        }

        /// Stop watching for signals (one was received): [`poll`](Self::poll) then
        /// looks at the input alone.
        pub fn ignore_signals(&mut self) {
            self.wake = None;
        }

        /// Whether input or a signal is there; with `wait`, wait for one of them.
        /// A signal wins over input.
        pub fn poll(&mut self, wait: bool) -> io::Result<Ready> {
            loop {
                if self.blocking {
                    return Ok(Ready::Input);
                }
                let mut fds = [
                    libc::pollfd {
                        fd: STDIN,
                        events: libc::POLLIN,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: self.wake.map_or(-1, |w| w.as_raw_fd()),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                let timeout = if wait { -1 } else { 0 };
                // SAFETY: `fds` is a live array of two initialised pollfd.
                let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                if fds[1].revents != 0 {
                    return Ok(Ready::Signal);
                }
                let got = fds[0].revents;
                if got & libc::POLLNVAL != 0 {
                    // SAFETY: F_GETFD only asks whether the descriptor is open.
                    if unsafe { libc::fcntl(STDIN, libc::F_GETFD) } < 0 {
                        return Err(io::Error::from_raw_os_error(libc::EBADF));
                    }
                    self.blocking = true; // open, but poll cannot watch it
                    continue;
                }
                if got != 0 {
                    return Ok(Ready::Input); // data, end of input, or an error to read
                }
                if !wait {
                    return Ok(Ready::Nothing);
                }
            }
        }

        /// One `read` of standard input (retried on EINTR); `None` if it would block
        /// (a non-blocking descriptor that another reader emptied first).
        pub fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<Event>> {
            loop {
                // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes.
                let n = unsafe { libc::read(STDIN, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => return Ok(None),
                        _ => return Err(e),
                    }
                }
                return Ok(Some(match n {
                    0 => Event::Eof,
                    n => Event::Data(n as usize),
                }));
            }
        }
    }
}

#[cfg(not(unix))]
mod other {
    use super::{Event, Ready};
    use std::io::{self, Read};

    pub struct Input;

    impl Input {
        pub fn stdin() -> Self {
            Input
        }

        pub fn blocking(&self) -> bool {
            true
        }

        pub fn ignore_signals(&mut self) {}

        pub fn poll(&mut self, _wait: bool) -> io::Result<Ready> {
            Ok(Ready::Input)
        }

        pub fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<Event>> {
            loop {
                match io::stdin().lock().read(buf) {
                    Ok(0) => return Ok(Some(Event::Eof)),
                    Ok(n) => return Ok(Some(Event::Data(n))),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// Whether an error of standard output means that its reader went away.
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
