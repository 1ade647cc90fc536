//! Byte searches over what a relay, a database file or freed memory holds.

use std::collections::HashMap;

/// A set of labelled needles, searched as all their windows of one length: a hit means a
/// haystack holds at least `width` consecutive bytes of a needle.
pub struct Needles {
    width: usize,
    windows: HashMap<Vec<u8>, String>,
}

impl Needles {
    /// No needles yet, searched as windows of `width` bytes.
    pub fn new(width: usize) -> Self {
        Self {
            width,
            windows: HashMap::new(),
        }
    }

    /// Adds every `width`-byte window of `bytes` (nothing if it is shorter).
    pub fn add(&mut self, label: impl Into<String>, bytes: &[u8]) {
        let label = label.into();
        for w in bytes.windows(self.width) {
            self.windows.entry(w.to_vec()).or_insert_with(|| label.clone());
        }
    }

    /// The number of distinct windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// True if no window was added.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The first needle window found in `haystack`: (label, offset).
    pub fn find(&self, haystack: &[u8]) -> Option<(String, usize)> {
        haystack
            .windows(self.width)
            .enumerate()
            .find_map(|(at, w)| self.windows.get(w).map(|label| (label.clone(), at)))
    }
}

/// True if `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
