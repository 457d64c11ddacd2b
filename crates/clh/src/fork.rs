//! Per-process state that `fork()` replaces.
//!
//! Threads do not survive `fork()`, and a mutex that another thread held at the moment
//! of the fork stays locked forever in the child. So state that holds descriptors,
//! mutexes or threads lives in a [`ForkLocal`]: the first use in a child swaps in a
//! fresh value and *abandons* the parent's (closing what it safely can) without ever
//! taking its mutex. The parent's value is leaked, not freed: another thread of the
//! child may still be looking at it.

use crate::sys;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// What to do, in a forked child, with a value that belongs to the parent.
pub(crate) trait Abandon {
    /// Release what can be released without blocking (never an unlock of a lock the
    /// parent may hold).
    fn abandon(&self);
}

struct Entry<T> {
    generation: u64,
    value: T,
}

/// A value of which each process has its own, made on first use after a fork.
pub(crate) struct ForkLocal<T: Abandon> {
    current: AtomicPtr<Entry<T>>,
}

impl<T: Abandon> ForkLocal<T> {
    pub fn new(value: T) -> Self {
        let entry = Entry {
            generation: sys::fork_generation(),
            value,
        };
        ForkLocal {
            current: AtomicPtr::new(Box::into_raw(Box::new(entry))),
        }
    }

    /// This process's value; in a forked child, `fresh()` replaces the parent's.
    pub fn get(&self, fresh: impl Fn() -> T) -> &T {
        let generation = sys::fork_generation();
        loop {
            let current = self.current.load(Ordering::Acquire);
            // SAFETY: entries are only freed in `Drop`, which has `&mut self`.
            let entry = unsafe { &*current };
            if entry.generation == generation {
                return &entry.value;
            }
            let new = Box::into_raw(Box::new(Entry {
                generation,
                value: fresh(),
            }));
            match self
                .current
                .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    entry.value.abandon();
                    // SAFETY: `new` is now owned by `self.current`.
                    return unsafe { &(*new).value };
                }
                // Another thread of this child won the swap: the loop returns its value.
                // SAFETY: `new` was never shared.
                Err(_) => drop(unsafe { Box::from_raw(new) }),
            }
        }
    }
}

impl<T: Abandon> Drop for ForkLocal<T> {
    fn drop(&mut self) {
        let current = std::mem::replace(self.current.get_mut(), ptr::null_mut());
        if current.is_null() {
            return;
        }
        // SAFETY: the current entry is owned by `self` and no longer shared.
        let entry = unsafe { Box::from_raw(current) };
        if entry.generation == sys::fork_generation() {
            drop(entry);
        } else {
            // Never used in this (forked) process: it is the parent's. Dropping it would
            // join threads or take mutexes that do not exist here.
            entry.value.abandon();
            std::mem::forget(entry);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Flagged(AtomicBool);

    impl Abandon for Flagged {
        fn abandon(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_forked_child_gets_a_fresh_value_and_abandons_the_parents() {
        let local = ForkLocal::new(Flagged(AtomicBool::new(false)));
        let parents: *const Flagged = local.get(|| unreachable!("same process"));
        // SAFETY: the child only touches `local` and exits without unwinding.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let fresh: *const Flagged = local.get(|| Flagged(AtomicBool::new(false)));
            // SAFETY: the parent's entry is leaked in the child, never freed.
            let abandoned = unsafe { (*parents).0.load(Ordering::SeqCst) };
            let ok = fresh != parents && abandoned;
            // SAFETY: leave the child at once, running nothing of the test harness.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for the child we just made.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        // The parent's value is untouched.
        assert!(!local.get(|| unreachable!()).0.load(Ordering::SeqCst));
    }
}
