//! Model internals: summaries of a model's tensors (weights and biases) per version and
//! step, and the differences between two of them.
//!
//! - [`histogram`]: numpy's 64 equal-width bins over the finite values;
//! - [`summary`]: [`TensorSummary`] from raw values, and the checks of a summary a
//!   client computed itself;
//! - [`request`]: the body of `POST .../parameters` read into tensors, each field
//!   checked and named;
//! - [`mod@diff`]: mean, std and relative L2-norm change, and the Wasserstein distance
//!   between two histograms.

pub mod diff;
pub mod histogram;
pub mod request;
pub mod summary;

pub use diff::{TensorDiff, diff};
pub use histogram::{HISTOGRAM_BINS, Histogram};
pub use request::{ParametersRequest, TensorInput, parse_request};
pub use summary::{TensorSummary, summarise};
