//! A Python `namer`, asked outside the cross-process lock: the core's namer (called
//! under the lock, without the GIL) only looks names up here, and the thread that logs
//! asks Python for the names the core is waiting for (see `NameCache`). One mechanism
//! for both handlers: numbered (`app.log.3`) and dated (`app.log.2026-11-28`) names.

use clh::Namer;
use pyo3::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A Python namer, asked outside the cross-process lock. The core's namer (called
/// under the lock, without the GIL) only looks names up here; a name not known yet is
/// recorded as wanted and the rotation is postponed. The thread that logs next (in
/// Python, holding no lock) asks the namer for the wanted names, and the next write
/// rotates. A namer that raises, or returns something that is not a path, is reported
/// and its default name used.
pub(crate) struct NameCache {
    func: Py<PyAny>,
    known: Mutex<HashMap<PathBuf, PathBuf>>,
    wanted: Mutex<Vec<PathBuf>>,
    any_wanted: AtomicBool,
}

/// Forget answers beyond this many (they are asked again when needed).
const MAX_KNOWN_NAMES: usize = 100_000;

impl NameCache {
    pub fn new(func: Py<PyAny>) -> Arc<Self> {
        Arc::new(NameCache {
            func,
            known: Mutex::new(HashMap::new()),
            wanted: Mutex::new(Vec::new()),
            any_wanted: AtomicBool::new(false),
        })
    }

    /// The core's namer: looks names up, and records those not known yet.
    pub fn namer(self: &Arc<Self>) -> Namer {
        let cache = Arc::clone(self);
        Namer::deferred(move |default: &Path| cache.lookup(default))
    }

    fn lookup(&self, default: &Path) -> Option<PathBuf> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(name) = known.get(default) {
            return Some(name.clone());
        }
        drop(known);
        let mut wanted = self.wanted.lock().unwrap_or_else(PoisonError::into_inner);
        if !wanted.iter().any(|w| w == default) {
            wanted.push(default.to_owned());
        }
        self.any_wanted.store(true, Ordering::Release);
        None
    }

    /// Ask the Python namer for every wanted name (with the GIL, holding no lock).
    pub fn resolve(&self, py: Python<'_>) {
        if !self.any_wanted.swap(false, Ordering::AcqRel) {
            return;
        }
        let wanted = py.detach(|| {
            std::mem::take(&mut *self.wanted.lock().unwrap_or_else(PoisonError::into_inner))
        });
        let answers: Vec<(PathBuf, PathBuf)> = wanted
            .into_iter()
            .map(|default| {
                let named = self
                    .func
                    .call1(py, (default.as_os_str(),))
                    .and_then(|r| r.extract::<PathBuf>(py));
                let named = match named {
                    Ok(named) => named,
                    Err(e) => {
                        // A broken namer must not stop rotation: use the default name.
                        e.print(py);
                        default.clone()
                    }
                };
                (default, named)
            })
            .collect();
        py.detach(|| {
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            if known.len() + answers.len() > MAX_KNOWN_NAMES {
                known.clear();
            }
            known.extend(answers);
        });
    }
}
