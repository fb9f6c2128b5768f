//! Mergeable sketches for the statistics that cannot be kept exactly in bounded memory.
//!
//! The relative-error and score sketches merge exactly (they add counts), so a sketch of
//! merged windows equals the sketch of all their values at once. The rank sketch's merge
//! compacts, so it equals it only within its rank guarantee (and is deterministic).

pub mod quantile;
pub mod rank;
pub mod score;

pub use quantile::{LatencySketch, QuantileSketch};
pub use rank::RankSketch;
pub use score::ScoreHistogram;

/// Merges `from` into `into`, both sorted by key, adding the values of equal keys.
pub(crate) fn merge_sorted<K: Ord + Copy, V: Copy>(
    into: &mut Vec<(K, V)>,
    from: &[(K, V)],
    add: impl Fn(V, V) -> V,
) {
    if from.is_empty() {
        return;
    }
    if from.len() * 8 < into.len() {
        // A small delta into a large accumulator (the writer's common case): update in
        // place rather than rebuild the accumulator.
        for (key, value) in from {
            match into.binary_search_by(|(k, _)| k.cmp(key)) {
                Ok(i) => into[i].1 = add(into[i].1, *value),
                Err(i) => into.insert(i, (*key, *value)),
            }
        }
        return;
    }
    let mut merged = Vec::with_capacity(into.len().max(from.len()));
    let (mut i, mut j) = (0, 0);
    while i < into.len() || j < from.len() {
        if j == from.len() || (i < into.len() && into[i].0 < from[j].0) {
            merged.push(into[i]);
            i += 1;
        } else if i == into.len() || from[j].0 < into[i].0 {
            merged.push(from[j]);
            j += 1;
        } else {
            merged.push((into[i].0, add(into[i].1, from[j].1)));
            i += 1;
            j += 1;
        }
    }
    *into = merged;
}
