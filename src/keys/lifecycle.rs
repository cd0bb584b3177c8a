//! Persistent and ephemeral key lifecycles.

use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::Zeroize;

use crate::error::Error;

/// Holds key material and decides whether it may still be used.
///
/// The material must wipe itself on drop (clearing a key drops it) and in place
/// on [`Zeroize::zeroize`] (an ephemeral key is wiped where it lives, under its
/// lock, once its operation returns).
pub(crate) struct Lifecycle<T: Zeroize> {
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

/// Read access to the material: a borrow, or a held lock on an ephemeral slot.
enum Access<'a, T> {
    Direct(&'a T),
    Locked(MutexGuard<'a, Option<T>>),
    Cleared,
}

impl<T> Access<'_, T> {
    fn get(&self) -> Option<&T> {
        match self {
            Self::Direct(material) => Some(material),
            Self::Locked(guard) => guard.as_ref(),
            Self::Cleared => None,
        }
    }
}

/// A held ephemeral slot that is wiped in place when released, even if the
/// operation using it panics.
struct WipeOnRelease<'a, T: Zeroize>(MutexGuard<'a, Option<T>>);

impl<T: Zeroize> Drop for WipeOnRelease<'_, T> {
    fn drop(&mut self) {
        // Zeroizes the material where it lies, drops it, then overwrites the
        // whole slot with zeros and leaves it `None`.
        self.0.zeroize();
    }
}

impl<T: Zeroize> Lifecycle<T> {
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

    /// Runs one token operation. An ephemeral key's material is used where it
    /// lies, under its lock, and wiped there when the operation returns; the
    /// slot is left empty.
    pub(crate) fn use_for_operation<R>(&self, operation: impl FnOnce(&T) -> R) -> Result<R, Error> {
        match &self.state {
            State::Persistent(material) => Ok(operation(material)),
            State::Ephemeral(slot) => {
                let held = WipeOnRelease(slot.lock().unwrap_or_else(PoisonError::into_inner));
                held.0.as_ref().map(operation).ok_or(Error::KeyCleared)
            }
            State::Cleared => Err(Error::KeyCleared),
        }
    }

    /// Reads the material without counting as a token operation (export, comparison).
    pub(crate) fn peek<R>(&self, read: impl FnOnce(&T) -> R) -> Result<R, Error> {
        self.access().get().map(read).ok_or(Error::KeyCleared)
    }

    /// Reads this material and `other`'s together, without counting as a token
    /// operation (comparison).
    ///
    /// Never deadlocks: the same object is locked once, and two ephemeral slots
    /// are always locked in the same (address) order, whichever side asks.
    pub(crate) fn peek_pair<R>(
        &self,
        other: &Self,
        read: impl FnOnce(&T, &T) -> R,
    ) -> Result<R, Error> {
        if core::ptr::eq(self, other) {
            return self.peek(|material| read(material, material));
        }
        // Any fixed order will do, so the mutants `<` → `>` (the reverse order)
        // and `<` → `<=` (two distinct objects never share an address) are
        // equivalent.
        let self_first = core::ptr::from_ref(self).addr() < core::ptr::from_ref(other).addr();
        let (mine, theirs) = if self_first {
            let mine = self.access();
            (mine, other.access())
        } else {
            let theirs = other.access();
            (self.access(), theirs)
        };
        match (mine.get(), theirs.get()) {
            (Some(mine), Some(theirs)) => Ok(read(mine, theirs)),
            _ => Err(Error::KeyCleared),
        }
    }

    fn access(&self) -> Access<'_, T> {
        match &self.state {
            State::Persistent(material) => Access::Direct(material),
            State::Ephemeral(slot) => {
                Access::Locked(slot.lock().unwrap_or_else(PoisonError::into_inner))
            }
            State::Cleared => Access::Cleared,
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

    use std::cell::RefCell;
    use std::rc::Rc;

    /// Material that records the address of every wipe it receives.
    struct Probe {
        bytes: [u8; 32],
        wiped_at: Rc<RefCell<Vec<usize>>>,
    }

    impl Probe {
        fn address(&self) -> usize {
            core::ptr::from_ref(self).addr()
        }
    }

    impl Zeroize for Probe {
        fn zeroize(&mut self) {
            self.bytes.zeroize();
            let address = self.address();
            self.wiped_at.borrow_mut().push(address);
        }
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            self.zeroize();
        }
    }

    #[test]
    fn an_ephemeral_key_is_used_and_wiped_where_it_lives() {
        let wiped_at = Rc::new(RefCell::new(Vec::new()));
        let key = Lifecycle::ephemeral(Probe {
            bytes: [7; 32],
            wiped_at: Rc::clone(&wiped_at),
        });
        let slot = key.peek(Probe::address).unwrap();
        assert!(wiped_at.borrow().is_empty());

        let (used_at, first_byte) = key
            .use_for_operation(|probe| (probe.address(), probe.bytes[0]))
            .unwrap();
        assert_eq!(first_byte, 7);
        assert_eq!(used_at, slot, "the operation ran on a moved copy");
        assert_eq!(
            wiped_at.borrow().first(),
            Some(&slot),
            "the first wipe was not at the slot's address: {:?}",
            wiped_at.borrow()
        );
        assert!(matches!(key.peek(Probe::address), Err(Error::KeyCleared)));
        assert!(matches!(
            key.use_for_operation(|_| ()),
            Err(Error::KeyCleared)
        ));
        assert!(key.is_cleared());
    }

    #[test]
    fn an_ephemeral_key_is_wiped_even_if_its_operation_panics() {
        let wiped_at = Rc::new(RefCell::new(Vec::new()));
        let key = Lifecycle::ephemeral(Probe {
            bytes: [7; 32],
            wiped_at: Rc::clone(&wiped_at),
        });
        let slot = key.peek(Probe::address).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            key.use_for_operation(|_| panic!("operation failed"))
        }));
        assert!(outcome.is_err());
        assert_eq!(wiped_at.borrow().first(), Some(&slot));
        assert!(key.is_cleared());
    }

    #[test]
    fn peek_pair_reads_both_sides_in_order_and_the_same_object_once() {
        let a = Lifecycle::ephemeral(1u8);
        let b = Lifecycle::persistent(2u8);
        assert_eq!(a.peek_pair(&b, |x, y| (*x, *y)).unwrap(), (1, 2));
        assert_eq!(b.peek_pair(&a, |x, y| (*x, *y)).unwrap(), (2, 1));
        assert_eq!(a.peek_pair(&a, |x, y| (*x, *y)).unwrap(), (1, 1));
        a.use_for_operation(|_| ()).unwrap();
        assert!(matches!(a.peek_pair(&b, |_, _| ()), Err(Error::KeyCleared)));
        assert!(matches!(b.peek_pair(&a, |_, _| ()), Err(Error::KeyCleared)));
        assert!(matches!(a.peek_pair(&a, |_, _| ()), Err(Error::KeyCleared)));
    }

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
