//! Duplicate ids in the offline report: the server refuses an id it has stored, and the
//! offline report refuses the second row with an id, the first one kept. How the ids
//! seen are remembered is the caller's choice: all of them in memory ([`AllIds`]), or,
//! for files larger than memory, something that keeps them on disk (the command line's).

use std::collections::HashSet;

/// The ids seen so far.
pub trait SeenIds {
    /// Whether `id` is seen for the first time (it is remembered from now on).
    fn first_sighting(&mut self, id: &str) -> bool;
}

/// Every id in memory: exact, and about 50 bytes per row.
#[derive(Debug, Default)]
pub struct AllIds(HashSet<String>);

impl SeenIds for AllIds {
    fn first_sighting(&mut self, id: &str) -> bool {
        if self.0.contains(id) {
            return false;
        }
        self.0.insert(id.to_string());
        true
    }
}
