//! Who holds a file's `flock` and who waits for it, from Linux's `/proc/locks`.
//!
//! Each line is one lock or one waiter (`->`):
//!
//! ```text
//! 1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF
//! 1: -> FLOCK  ADVISORY  WRITE 4243 08:01:1234567 0 EOF
//! ```
//!
//! `major:minor:inode` names the file (device numbers in hex). Under overlayfs (most
//! containers) the device shown is the underlying file system's, not the one `stat`
//! gives: entries are matched on device and inode when any match so, else on the
//! inode alone.

/// One line of `/proc/locks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `FLOCK`, `POSIX`, `OFDLCK`, `LEASE`…
    pub kind: String,
    /// `READ` (shared) or `WRITE` (exclusive).
    pub access: String,
    /// Waits for the lock rather than holds it.
    pub waiting: bool,
    /// The process that took it (0 or less when the kernel does not know).
    pub pid: i64,
    pub major: u32,
    pub minor: u32,
    pub inode: u64,
}

/// Parse `/proc/locks`' text; lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let mut fields = line.split_whitespace().peekable();
    fields.next()?.strip_suffix(':')?; // "1:"
    let waiting = fields.next_if_eq(&"->").is_some();
    let kind = fields.next()?.to_owned();
    let _mandatory = fields.next()?;
    let access = fields.next()?.to_owned();
    let pid = fields.next()?.parse().ok()?;
    let mut id = fields.next()?.split(':');
    let major = u32::from_str_radix(id.next()?, 16).ok()?;
    let minor = u32::from_str_radix(id.next()?, 16).ok()?;
    let inode = id.next()?.parse().ok()?;
    Some(Entry {
        kind,
        access,
        waiting,
        pid,
        major,
        minor,
        inode,
    })
}

/// The `FLOCK` entries on the file with this device and inode.
pub fn flocks_on(entries: &[Entry], major: u32, minor: u32, inode: u64) -> Vec<Entry> {
    let on_inode: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == "FLOCK" && e.inode == inode)
        .collect();
    let exact: Vec<Entry> = on_inode
        .iter()
        .filter(|e| e.major == major && e.minor == minor)
        .map(|e| (*e).clone())
        .collect();
    if exact.is_empty() {
        on_inode.into_iter().cloned().collect()
    } else {
        exact
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF
1: -> FLOCK  ADVISORY  WRITE 4243 08:01:1234567 0 EOF
1: -> FLOCK  ADVISORY  WRITE 4250 08:01:1234567 0 EOF
2: POSIX  ADVISORY  WRITE 777 08:01:1234567 0 EOF
3: FLOCK  ADVISORY  WRITE 99 00:2c:1234567 0 EOF
4: OFDLCK ADVISORY  READ  -1 fd:00:42 0 EOF
garbage
";

    #[test]
    fn holders_and_waiters_of_one_file() {
        let entries = parse(SAMPLE);
        assert_eq!(entries.len(), 6);
        let on = flocks_on(&entries, 8, 1, 1_234_567);
        let pids: Vec<_> = on.iter().map(|e| (e.pid, e.waiting)).collect();
        assert_eq!(pids, [(4242, false), (4243, true), (4250, true)]);
        assert_eq!(entries[5].pid, -1);
        assert_eq!((entries[5].major, entries[5].minor), (0xfd, 0));
    }

    #[test]
    fn the_inode_alone_when_no_device_matches() {
        let entries = parse(SAMPLE);
        let on = flocks_on(&entries, 0, 0x99, 1_234_567);
        let pids: Vec<_> = on.iter().map(|e| e.pid).collect();
        assert_eq!(pids, [4242, 4243, 4250, 99]);
    }
}
