//! What decides a rotation. Triggers only look at what the writer observed under the
//! lock; carrying a rotation out is `rotation.rs`'s job.

/// Rotate when the log has reached `max_bytes` (CLH's rule: the size before the
/// write is compared, so a file may exceed the limit by one record; an empty file
/// never rotates, so a record larger than the limit is still written whole).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SizeTrigger {
    max_bytes: u64,
}

impl SizeTrigger {
    pub fn new(max_bytes: u64) -> Self {
        SizeTrigger { max_bytes }
    }

    /// Whether a log of `size` bytes must be rotated before the next write.
    pub fn should_rotate(&self, size: u64) -> bool {
        self.max_bytes > 0 && size > 0 && size >= self.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_rule() {
        let never = SizeTrigger::new(0);
        assert!(!never.should_rotate(u64::MAX));
        let t = SizeTrigger::new(100);
        assert!(!t.should_rotate(0));
        assert!(!t.should_rotate(99));
        assert!(t.should_rotate(100));
        assert!(t.should_rotate(5000));
        assert!(!SizeTrigger::new(1).should_rotate(0));
    }
}
