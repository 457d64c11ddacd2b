//! Values given on the command line: sizes (`10MiB`), octal modes (`640`), owners
//! (`www-data:adm`), `--when` and `--at-time`. Each parser returns a message that clap
//! shows as a usage error (exit code 2).

/// Which size suffixes mean what, for `--help` and error messages.
pub const SIZE_SUFFIXES: &str =
    "a number of bytes, optionally followed by K, M, G, T or KiB, MiB, GiB, TiB \
     (powers of 1024) or KB, MB, GB, TB (powers of 1000); case-insensitive, B alone means bytes";

/// A size in bytes: plain digits, or digits and a suffix (see [`SIZE_SUFFIXES`]).
pub fn size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits);
    let bad = || format!("{text:?} is not a size: expected {SIZE_SUFFIXES}");
    if number.is_empty() {
        return Err(bad());
    }
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit: u64 = match suffix.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{text:?} is too large (at most {} bytes)", u64::MAX))
}

/// An octal number at most `max` (digits 0-7, an optional `0o` prefix).
fn octal(text: &str, max: u32, what: &str) -> Result<u32, String> {
    let s = text.trim();
    let digits = s
        .strip_prefix("0o")
        .or_else(|| s.strip_prefix("0O"))
        .unwrap_or(s);
    let bad = || format!("{text:?} is not an octal {what} (digits 0-7, like 640 or 0o640)");
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad());
    }
    let value = u32::from_str_radix(digits, 8).map_err(|_| bad())?;
    if value > max {
        return Err(format!("{text:?} is out of range: at most {max:o}"));
    }
    Ok(value)
}

/// `--chmod`: octal permission bits, at most 7777.
pub fn mode(text: &str) -> Result<u32, String> {
    octal(text, 0o7777, "mode")
}

/// `--umask`: octal, at most 777.
pub fn umask(text: &str) -> Result<u32, String> {
    octal(text, 0o777, "umask")
}

/// `--when`: the stdlib's spelling, case-insensitive.
pub fn when(text: &str) -> Result<clh::When, String> {
    clh::When::parse(text).map_err(|e| e.to_string())
}

/// `--at-time`: `HH:MM` or `HH:MM:SS`, 24-hour clock.
pub fn at_time(text: &str) -> Result<jiff::civil::Time, String> {
    let bad = || format!("{text:?} is not a time of day: expected HH:MM or HH:MM:SS (24-hour)");
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let field = |i: usize| parts.get(i).map_or(Ok(0), |p| p.parse::<i8>());
    let (h, m, s) = (
        field(0).map_err(|_| bad())?,
        field(1).map_err(|_| bad())?,
        field(2).map_err(|_| bad())?,
    );
    jiff::civil::Time::new(h, m, s, 0).map_err(|_| bad())
}

/// `--owner USER[:GROUP]`, `:GROUP`, names or numeric ids, resolved now (an unknown
/// name is a usage error). A user alone also gives its login group, as `chown user:`
/// does; an id left out is `u32::MAX`, which `fchown` reads as "leave unchanged".
pub fn owner(text: &str) -> Result<(u32, u32), String> {
    let (user, group) = match text.split_once(':') {
        Some((user, group)) => (user, (!group.is_empty()).then_some(group)),
        None => (text, None),
    };
    if user.is_empty() && group.is_none() {
        return Err(format!(
            "{text:?} names no owner: expected USER, USER:GROUP or :GROUP"
        ));
    }
    let (uid, login_group) = if user.is_empty() {
        (u32::MAX, None)
    } else {
        ids::user(user)?
    };
    let gid = match group {
        Some(group) => ids::group(group)?,
        None => login_group.unwrap_or(u32::MAX),
    };
    Ok((uid, gid))
}

#[cfg(unix)]
mod ids {
    //! Names to ids through the system's user database (`getpwnam_r`, `getgrnam_r`:
    //! files, LDAP, whatever nsswitch says), numbers as they are.
    use std::ffi::{c_char, CString};
    use std::io;

    /// A user's uid and login group.
    pub fn user(name: &str) -> Result<(u32, Option<u32>), String> {
        let found = lookup(name, |c_name, buf| {
            // SAFETY: `passwd` is plain old data, filled in by getpwnam_r; the buffer
            // outlives the call and its length is passed along.
            unsafe {
                let mut pwd: libc::passwd = std::mem::zeroed();
                let mut result: *mut libc::passwd = std::ptr::null_mut();
                let rc = libc::getpwnam_r(
                    c_name.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr().cast::<c_char>(),
                    buf.len(),
                    &mut result,
                );
                (rc, (!result.is_null()).then_some((pwd.pw_uid, pwd.pw_gid)))
            }
        })?;
        match found {
            Some((uid, gid)) => Ok((uid, Some(gid))),
            None => number(name, "user").map(|uid| (uid, None)),
        }
    }

    /// A group's gid.
    pub fn group(name: &str) -> Result<u32, String> {
        let found = lookup(name, |c_name, buf| {
            // SAFETY: as in `user`, with `group` and getgrnam_r.
            unsafe {
                let mut grp: libc::group = std::mem::zeroed();
                let mut result: *mut libc::group = std::ptr::null_mut();
                let rc = libc::getgrnam_r(
                    c_name.as_ptr(),
                    &mut grp,
                    buf.as_mut_ptr().cast::<c_char>(),
                    buf.len(),
                    &mut result,
                );
                (rc, (!result.is_null()).then_some(grp.gr_gid))
            }
        })?;
        match found {
            Some(gid) => Ok(gid),
            None => number(name, "group"),
        }
    }

    /// Call a `get*nam_r` with a buffer that grows while it says `ERANGE`.
    fn lookup<T>(
        name: &str,
        call: impl Fn(&CString, &mut [u8]) -> (libc::c_int, Option<T>),
    ) -> Result<Option<T>, String> {
        let c_name = CString::new(name).map_err(|_| format!("{name:?} contains a NUL byte"))?;
        let mut buf = vec![0u8; 4096];
        loop {
            match call(&c_name, &mut buf) {
                (libc::ERANGE, _) if buf.len() < (1 << 20) => buf.resize(buf.len() * 2, 0),
                (0, found) => return Ok(found),
                // Not found is 0 with no result on glibc, an errno elsewhere.
                (libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM, _) => return Ok(None),
                (rc, _) => {
                    return Err(format!(
                        "looking up {name:?}: {}",
                        io::Error::from_raw_os_error(rc)
                    ))
                }
            }
        }
    }

    fn number(name: &str, what: &str) -> Result<u32, String> {
        match name.parse::<u32>() {
            Ok(id) if id != u32::MAX => Ok(id),
            _ => Err(format!("no such {what}: {name:?}")),
        }
    }
}

#[cfg(not(unix))]
mod ids {
    pub fn user(_: &str) -> Result<(u32, Option<u32>), String> {
        Err("--owner works on Unix only".into())
    }

    pub fn group(_: &str) -> Result<u32, String> {
        Err("--owner works on Unix only".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_suffixes() {
        for (text, bytes) in [
            ("0", 0),
            ("512", 512),
            ("10B", 10),
            ("4K", 4096),
            ("4k", 4096),
            ("4KiB", 4096),
            ("4KB", 4000),
            ("10MiB", 10 << 20),
            ("10M", 10 << 20),
            ("10MB", 10_000_000),
            ("10 mib", 10 << 20),
            ("2G", 2 << 30),
            ("2GB", 2_000_000_000),
            ("1T", 1 << 40),
        ] {
            assert_eq!(size(text), Ok(bytes), "{text}");
        }
        for bad in [
            "",
            "MiB",
            "-1",
            "1.5M",
            "10X",
            "10 MiBs",
            "99999999999999999999",
        ] {
            assert!(size(bad).is_err(), "{bad}");
        }
        assert!(size("20000000T").unwrap_err().contains("too large"));
    }

    #[test]
    fn modes_are_octal_and_bounded() {
        assert_eq!(mode("640"), Ok(0o640));
        assert_eq!(mode("0640"), Ok(0o640));
        assert_eq!(mode("0o2750"), Ok(0o2750));
        assert!(mode("648").is_err());
        assert!(mode("17777").is_err());
        assert!(mode("rw-r-----").is_err());
        assert_eq!(umask("027"), Ok(0o27));
        assert!(umask("1777").is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(at_time("03:30"), Ok(jiff::civil::time(3, 30, 0, 0)));
        assert_eq!(at_time("23:59:58"), Ok(jiff::civil::time(23, 59, 58, 0)));
        for bad in [
            "24:00",
            "3",
            "03:60",
            "3:30:00:00",
            "ab:cd",
            ":30",
            "003:30",
        ] {
            assert!(at_time(bad).is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn owners_by_name_or_id() {
        assert_eq!(owner("root"), Ok((0, 0)));
        assert_eq!(owner("root:root"), Ok((0, 0)));
        assert_eq!(owner("0:0"), Ok((0, 0)));
        assert_eq!(owner("1234"), Ok((1234, u32::MAX)));
        assert_eq!(owner(":0"), Ok((u32::MAX, 0)));
        assert_eq!(owner("4321:"), Ok((4321, u32::MAX)));
        assert!(owner("no-such-user-here")
            .unwrap_err()
            .contains("no such user"));
        assert!(owner("root:no-such-group-here")
            .unwrap_err()
            .contains("no such group"));
        assert!(owner(":").is_err());
    }
}
