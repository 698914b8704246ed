//! A value that a configuration reload replaces while it is in use: readers take an `Arc` of the
//! current value and keep it as long as they need it (a request until it is answered, a RadSec
//! connection for its life), so a swap never changes anything under them.

use std::sync::{Arc, PoisonError, RwLock};

pub struct Swappable<T>(RwLock<Arc<T>>);

impl<T> Swappable<T> {
    pub fn new(value: T) -> Self {
        Swappable(RwLock::new(Arc::new(value)))
    }

    /// The current value.
    pub fn get(&self) -> Arc<T> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Makes `value` current; holders of the previous one keep it until they drop it.
    pub fn replace(&self, value: T) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
    }
}
