//! [`Interruptible`]: a view of a [`LogWriter`] whose calls hand control back, before
//! anything is written, when a signal interrupts the wait for the lock or a due
//! rotation needs a name a deferred namer does not know yet (the Python binding's way to
//! run signal handlers, PEP 475, and to call its namer outside the lock).

use crate::error::Result;
use crate::locking::Interrupts;
use crate::writer::LogWriter;
#[cfg(doc)]
use crate::{Error, Namer};

impl LogWriter {
    /// The same writer, but a call returns control before it writes a record when it
    /// is interrupted: by a signal during the wait for the lock ([`Error::Interrupted`],
    /// so that the caller can run its signal handlers and call again, Python's rule in
    /// PEP 475), or by a due rotation whose name a deferred [`Namer`] does not know yet
    /// ([`Error::NamePending`], so that the caller can ask its namer, outside the lock,
    /// and call again: the rotation then comes before the record, as it should).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// loop {
    ///     match writer.interruptible().write(b"x\n") {
    ///         Err(clh::Error::Interrupted) => continue, // run handlers here
    ///         other => break other?,
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn interruptible(&self) -> Interruptible<'_> {
        Interruptible(self)
    }
}

/// A [`LogWriter`] whose calls return [`Error::Interrupted`] or
/// [`Error::NamePending`] instead of carrying on (see [`LogWriter::interruptible`]).
#[derive(Debug, Clone, Copy)]
pub struct Interruptible<'a>(pub(crate) &'a LogWriter);

impl Interruptible<'_> {
    /// [`LogWriter::write`], or [`Error::Interrupted`] / [`Error::NamePending`] with
    /// nothing written.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.interruptible().write(b"x\n")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, record: &[u8]) -> Result<()> {
        self.0.append(&[record], Interrupts::Return).result
    }

    /// [`LogWriter::should_rotate`], or [`Error::Interrupted`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// assert!(!writer.interruptible().should_rotate()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn should_rotate(&self) -> Result<bool> {
        self.0.should_rotate_with(Interrupts::Return)
    }

    /// [`LogWriter::rotate`], or [`Error::Interrupted`] / [`Error::NamePending`] with
    /// nothing done.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// writer.interruptible().rotate()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotate(&self) -> Result<()> {
        self.0.rotate_with(Interrupts::Return)
    }
}
