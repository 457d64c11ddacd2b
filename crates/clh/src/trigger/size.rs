//! What decides a *size* rotation: the size of the log as every process wrote it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Rotate when the log has reached `max_bytes` (CLH's rule: the size before the
/// write is compared, so a file may exceed the limit by one record; an empty file
/// never rotates, so a record larger than the limit is still written whole). The limit
/// may change while writers run (CLH's `maxBytes` is read at every check).
#[derive(Debug)]
pub(crate) struct SizeTrigger {
    max_bytes: AtomicU64,
}

impl SizeTrigger {
    pub fn new(max_bytes: u64) -> Self {
        SizeTrigger {
            max_bytes: AtomicU64::new(max_bytes),
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes.load(Ordering::Relaxed)
    }

    pub fn set_max_bytes(&self, max_bytes: u64) {
        self.max_bytes.store(max_bytes, Ordering::Relaxed);
    }

    /// Whether a log of `size` bytes must be rotated before the next write.
    pub fn is_due(&self, size: u64) -> bool {
        let max = self.max_bytes();
        max > 0 && size > 0 && size >= max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_rule() {
        let never = SizeTrigger::new(0);
        assert!(!never.is_due(u64::MAX));
        let t = SizeTrigger::new(100);
        assert!(!t.is_due(0));
        assert!(!t.is_due(99));
        assert!(t.is_due(100));
        assert!(t.is_due(5000));
        assert!(!SizeTrigger::new(1).is_due(0));
        t.set_max_bytes(0);
        assert!(!t.is_due(5000));
    }
}
