//! Mergeable sketches for the statistics that cannot be kept exactly in bounded memory.
//!
//! Each sketch's merge is associative and commutative and exact (it adds counts),
//! so a sketch of merged windows equals the sketch of all their values at once.

pub mod latency;
pub mod score;

pub use latency::LatencySketch;
pub use score::ScoreHistogram;
