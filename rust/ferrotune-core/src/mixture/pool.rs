//! Recycling of large scratch and storage buffers through a small per-thread pool.
//!
//! A TPE step allocates a few hundred kilobytes (bandwidths, cached log masses, scoring
//! blocks) and frees them at the end. The C allocator tends to return such memory to the
//! operating system and to fault fresh pages in on the next step, which costs more than the
//! arithmetic on them. Buffers of at least [`MIN_POOLED`] elements are therefore handed back
//! to a bounded per-thread pool when dropped and reused by the next allocation that fits.

use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// Smaller buffers go straight to the allocator.
pub(crate) const MIN_POOLED: usize = 512;
const MAX_BUFFERS: usize = 48;
/// Per element type and thread (8-byte elements: 32 MiB).
const MAX_ELEMENTS: usize = 4 << 20;

/// The pooled buffers of one element type, ascending by capacity, and their total capacity.
pub(crate) struct Pool<T> {
    buffers: Vec<Vec<T>>,
    held: usize,
}

impl<T> Pool<T> {
    const fn new() -> Self {
        Pool {
            buffers: Vec::new(),
            held: 0,
        }
    }

    /// Removes and returns the smallest buffer with room for `n` elements, if any.
    fn take(&mut self, n: usize) -> Option<Vec<T>> {
        let at = self.buffers.partition_point(|b| b.capacity() < n);
        if at == self.buffers.len() {
            return None;
        }
        let v = self.buffers.remove(at);
        self.held -= v.capacity();
        Some(v)
    }

    /// Keeps `v` if the pool has room for it.
    fn put(&mut self, v: Vec<T>) {
        let cap = v.capacity();
        if self.buffers.len() < MAX_BUFFERS && self.held + cap <= MAX_ELEMENTS {
            let at = self.buffers.partition_point(|b| b.capacity() < cap);
            self.buffers.insert(at, v);
            self.held += cap;
        }
    }
}

pub(crate) trait Pooled: Copy + 'static {
    fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> Option<R>;
}

macro_rules! pooled {
    ($t:ty, $name:ident) => {
        thread_local! {
            static $name: RefCell<Pool<$t>> = const { RefCell::new(Pool::new()) };
        }
        impl Pooled for $t {
            fn with_pool<R>(f: impl FnOnce(&mut Pool<Self>) -> R) -> Option<R> {
                $name
                    .try_with(|p| p.try_borrow_mut().ok().map(|mut p| f(&mut p)))
                    .ok()
                    .flatten()
            }
        }
    };
}
pooled!(f64, POOL_F64);
pooled!(u64, POOL_U64);
pooled!(usize, POOL_USIZE);

/// A `Vec` whose allocation comes from, and returns to, the per-thread pool.
pub struct Buf<T: Pooled>(Vec<T>);

impl<T: Pooled> Buf<T> {
    /// An empty buffer with room for at least `n` elements.
    pub(crate) fn with_capacity(n: usize) -> Self {
        if n >= MIN_POOLED {
            if let Some(mut v) = T::with_pool(|p| p.take(n)).flatten() {
                v.clear();
                return Buf(v);
            }
        }
        Buf(Vec::with_capacity(n))
    }

    /// `n` copies of `value`.
    pub(crate) fn filled(n: usize, value: T) -> Self {
        let mut b = Self::with_capacity(n);
        b.0.resize(n, value);
        b
    }

    /// A copy of `values`.
    pub(crate) fn from_slice(values: &[T]) -> Self {
        let mut b = Self::with_capacity(values.len());
        b.0.extend_from_slice(values);
        b
    }

    /// Hands a plain `Vec` (e.g. one returned by another module) to the pool.
    pub(crate) fn recycle(v: Vec<T>) {
        if v.capacity() < MIN_POOLED {
            return;
        }
        T::with_pool(move |p| p.put(v));
    }
}

impl<T: Pooled> Drop for Buf<T> {
    fn drop(&mut self) {
        Self::recycle(std::mem::take(&mut self.0));
    }
}

impl<T: Pooled> Deref for Buf<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Pooled> DerefMut for Buf<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: Pooled> Clone for Buf<T> {
    fn clone(&self) -> Self {
        Self::from_slice(&self.0)
    }
}

impl<T: Pooled> Default for Buf<T> {
    fn default() -> Self {
        Buf(Vec::new())
    }
}

impl<T: Pooled + fmt::Debug> fmt::Debug for Buf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_returns_the_smallest_fitting_buffer() {
        let mut p: Pool<f64> = Pool::new();
        for cap in [4096, 1024, 2048, 1024] {
            p.put(Vec::with_capacity(cap));
        }
        let caps: Vec<usize> = p.buffers.iter().map(|b| b.capacity()).collect();
        assert!(caps.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(p.held, caps.iter().sum::<usize>());
        let v = p.take(1500).map(|v| v.capacity());
        assert!(v.is_some_and(|c| (2048..4096).contains(&c)));
        assert!(p.take(100_000).is_none());
        assert_eq!(
            p.held,
            p.buffers.iter().map(|b| b.capacity()).sum::<usize>()
        );
        // Buffers come back through `Buf`.
        let b: Buf<f64> = Buf::filled(600, 1.5);
        assert_eq!(b.len(), 600);
        assert!(b.iter().all(|&v| v == 1.5));
        drop(b);
        let b: Buf<f64> = Buf::with_capacity(600);
        assert!(b.is_empty() && b.capacity() >= 600);
    }
}
