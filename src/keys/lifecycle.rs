//! Persistent and ephemeral key lifecycles.

use std::sync::{Mutex, PoisonError};

use crate::error::Error;

/// Holds key material and decides whether it may still be used.
///
/// The material type must wipe itself on drop: clearing a key drops it.
pub(crate) struct Lifecycle<T> {
    state: State<T>,
}

enum State<T> {
    /// Usable until cleared or dropped.
    Persistent(T),
    /// Usable for one token operation; `None` once used.
    Ephemeral(Mutex<Option<T>>),
    /// Wiped by an explicit `clear`.
    Cleared,
}

impl<T> Lifecycle<T> {
    pub(crate) fn persistent(material: T) -> Self {
        Self {
            state: State::Persistent(material),
        }
    }

    pub(crate) fn ephemeral(material: T) -> Self {
        Self {
            state: State::Ephemeral(Mutex::new(Some(material))),
        }
    }

    /// Runs one token operation. An ephemeral key's material is taken out first
    /// and dropped (wiped) when the operation returns.
    pub(crate) fn use_for_operation<R>(&self, operation: impl FnOnce(&T) -> R) -> Result<R, Error> {
        match &self.state {
            State::Persistent(material) => Ok(operation(material)),
            State::Ephemeral(slot) => {
                let taken = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                taken
                    .map(|material| operation(&material))
                    .ok_or(Error::KeyCleared)
            }
            State::Cleared => Err(Error::KeyCleared),
        }
    }

    /// Reads the material without counting as a token operation (export, comparison).
    pub(crate) fn peek<R>(&self, read: impl FnOnce(&T) -> R) -> Result<R, Error> {
        match &self.state {
            State::Persistent(material) => Ok(read(material)),
            State::Ephemeral(slot) => {
                let guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
                guard.as_ref().map(read).ok_or(Error::KeyCleared)
            }
            State::Cleared => Err(Error::KeyCleared),
        }
    }

    /// Drops (and so wipes) the material; every later use fails.
    pub(crate) fn clear(&mut self) {
        self.state = State::Cleared;
    }

    /// The same material, now wiped after its next token operation.
    pub(crate) fn into_ephemeral(self) -> Self {
        match self.state {
            State::Persistent(material) => Self::ephemeral(material),
            state @ (State::Ephemeral(_) | State::Cleared) => Self { state },
        }
    }

    pub(crate) fn is_ephemeral(&self) -> bool {
        matches!(self.state, State::Ephemeral(_))
    }

    pub(crate) fn is_cleared(&self) -> bool {
        self.peek(|_| ()).is_err()
    }

    /// `"persistent"`, `"ephemeral"` or `"cleared"`, for redacted `Debug` output.
    pub(crate) fn describe(&self) -> &'static str {
        match (&self.state, self.is_cleared()) {
            (_, true) => "cleared",
            (State::Ephemeral(_), false) => "ephemeral",
            _ => "persistent",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistent_material_survives_many_operations() {
        let key = Lifecycle::persistent(5u8);
        for _ in 0..3 {
            assert_eq!(key.use_for_operation(|m| *m + 1).unwrap(), 6);
        }
    }

    #[test]
    fn ephemeral_material_is_gone_after_one_operation() {
        let key = Lifecycle::ephemeral(5u8);
        assert_eq!(key.use_for_operation(|m| *m).unwrap(), 5);
        assert!(matches!(
            key.use_for_operation(|m| *m),
            Err(Error::KeyCleared)
        ));
        assert!(matches!(key.peek(|m| *m), Err(Error::KeyCleared)));
        assert!(key.is_cleared());
    }

    #[test]
    fn peeking_does_not_consume_an_ephemeral_key() {
        let key = Lifecycle::ephemeral(5u8);
        assert_eq!(key.peek(|m| *m).unwrap(), 5);
        assert_eq!(key.use_for_operation(|m| *m).unwrap(), 5);
    }

    #[test]
    fn cleared_material_refuses_every_use() {
        let mut key = Lifecycle::persistent(5u8);
        key.clear();
        assert!(matches!(
            key.use_for_operation(|m| *m),
            Err(Error::KeyCleared)
        ));
        assert_eq!(key.describe(), "cleared");
    }

    #[test]
    fn into_ephemeral_keeps_a_cleared_key_cleared() {
        let mut key = Lifecycle::persistent(5u8);
        key.clear();
        let key = key.into_ephemeral();
        assert!(key.is_cleared());
        assert!(!key.is_ephemeral());
    }

    #[test]
    fn an_ephemeral_key_is_used_once_across_threads() {
        let key = Lifecycle::ephemeral(1u32);
        let successes: u32 = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| key.use_for_operation(|m| *m).unwrap_or(0)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(successes, 1);
    }
}
