//! `BoundedGroups`: per-value state of one categorical feature in bounded memory, with a
//! merge that is exact in any grouping.
//!
//! A window keeps its own entry for at most [`MAX_KEPT_VALUES`] values: those with the
//! smallest `(hash, value)` keys (a bottom-k sample, FNV-1a 64 of the value's bytes);
//! every other value is folded into `other`. A value outside the bottom-k of a set of
//! events is outside it for every superset too, so building at once, merging in any
//! grouping and merging in any order all keep the same values and fold the same rest:
//! the state is that of the distinct values seen, not of their order. When a range holds
//! at most `MAX_KEPT_VALUES` distinct values (per segment), every value is exact.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Most values a window (or a merged range) keeps apart per feature.
pub const MAX_KEPT_VALUES: usize = 256;

/// What a group's state must do: merge another of its kind.
pub trait GroupState: Default + Clone {
    /// Adds everything in `other`.
    fn merge_from(&mut self, other: &Self);
}

/// FNV-1a 64: stable across platforms and versions, since it orders stored state.
pub fn value_hash(value: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The kept values (by hash, then value) and the folded rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoundedGroups<P> {
    /// hash → `(value, state)` sorted by value (several only on a hash collision).
    kept: BTreeMap<u64, Vec<(String, P)>>,
    kept_len: usize,
    /// Everything of the values not kept.
    other: P,
}

impl<P: GroupState> BoundedGroups<P> {
    /// The state of `value`, created if it is kept; `other` if it is not.
    pub fn entry(&mut self, value: &str) -> &mut P {
        let hash = value_hash(value);
        let known = self
            .kept
            .get(&hash)
            .is_some_and(|slot| slot.iter().any(|(v, _)| v == value));
        if !known {
            if self.kept_len >= MAX_KEPT_VALUES {
                if !self.below_largest(hash, value) {
                    return &mut self.other;
                }
                // The evicted key is larger than `value`'s, so it is never `value`.
                self.evict_largest();
            }
            let slot = self.kept.entry(hash).or_default();
            let position = slot
                .binary_search_by(|(v, _)| v.as_str().cmp(value))
                .unwrap_or_else(|p| p);
            slot.insert(position, (value.to_string(), P::default()));
            self.kept_len += 1;
        }
        let slot = self.kept.get_mut(&hash).expect("the value is kept");
        let position = slot
            .iter()
            .position(|(v, _)| v == value)
            .expect("the value is kept");
        &mut slot[position].1
    }

    /// Whether `(hash, value)` sorts before the largest kept key.
    fn below_largest(&self, hash: u64, value: &str) -> bool {
        match self.kept.last_key_value() {
            Some((&largest, slot)) => {
                (hash, value) < (largest, slot.last().map_or("", |(v, _)| v.as_str()))
            }
            None => true,
        }
    }

    fn evict_largest(&mut self) {
        if let Some(mut entry) = self.kept.last_entry() {
            if let Some((_, state)) = entry.get_mut().pop() {
                self.other.merge_from(&state);
                self.kept_len -= 1;
            }
            if entry.get().is_empty() {
                entry.remove();
            }
        }
    }

    /// Adds everything in `other` (associative and commutative).
    pub fn merge(&mut self, other: &BoundedGroups<P>) {
        self.other.merge_from(&other.other);
        for (value, state) in other.values() {
            self.entry(value).merge_from(state);
        }
    }

    /// The kept values and their states, in `(hash, value)` order.
    pub fn values(&self) -> impl Iterator<Item = (&str, &P)> {
        self.kept
            .values()
            .flat_map(|slot| slot.iter().map(|(v, p)| (v.as_str(), p)))
    }

    /// The state of the values not kept.
    pub fn other(&self) -> &P {
        &self.other
    }

    /// The state of `value` if it is kept.
    pub fn get(&self, value: &str) -> Option<&P> {
        self.kept
            .get(&value_hash(value))?
            .iter()
            .find(|(v, _)| v == value)
            .map(|(_, p)| p)
    }

    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.kept_len == 0
    }
}

/// The stored form: the kept `(value, state)` pairs, then the rest.
#[derive(Serialize, Deserialize)]
struct Stored<P> {
    kept: Vec<(String, P)>,
    other: P,
}

impl<P: GroupState + Serialize> Serialize for BoundedGroups<P> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Stored", 2)?;
        let kept: Vec<(&str, &P)> = self.values().collect();
        out.serialize_field("kept", &kept)?;
        out.serialize_field("other", &self.other)?;
        out.end()
    }
}

impl<'de, P: GroupState + Deserialize<'de>> Deserialize<'de> for BoundedGroups<P> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::<P>::deserialize(deserializer)?;
        let mut groups = BoundedGroups {
            other: stored.other,
            ..BoundedGroups::default()
        };
        for (value, state) in stored.kept {
            groups.entry(&value).merge_from(&state);
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl GroupState for u64 {
        fn merge_from(&mut self, other: &Self) {
            *self += other;
        }
    }

    fn build(values: &[String]) -> BoundedGroups<u64> {
        let mut groups = BoundedGroups::default();
        for v in values {
            *groups.entry(v) += 1;
        }
        groups
    }

    #[test]
    fn keeps_the_smallest_hashes_whatever_the_order() {
        let values: Vec<String> = (0..1000).map(|i| format!("v{}", i % 700)).collect();
        let at_once = build(&values);
        let kept: u64 = at_once.values().map(|(_, n)| n).sum();
        assert_eq!(kept + at_once.other(), 1000);
        assert_eq!(at_once.values().count(), MAX_KEPT_VALUES);
        let mut reversed = values.clone();
        reversed.reverse();
        assert_eq!(build(&reversed), at_once);
        let mut merged = build(&values[..333]);
        merged.merge(&build(&values[333..]));
        assert_eq!(merged, at_once);
        let mut smallest: Vec<(u64, String)> = (0..700)
            .map(|i| format!("v{i}"))
            .map(|v| (value_hash(&v), v))
            .collect();
        smallest.sort();
        let expected: Vec<&str> = smallest[..MAX_KEPT_VALUES]
            .iter()
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            at_once.values().map(|(v, _)| v).collect::<Vec<_>>(),
            expected
        );
    }

    #[test]
    fn round_trips_through_postcard() {
        let groups = build(&["a".to_string(), "b".to_string(), "a".to_string()]);
        let bytes = postcard::to_stdvec(&groups).unwrap();
        let back: BoundedGroups<u64> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, groups);
        assert_eq!(back.get("a"), Some(&2));
    }
}
