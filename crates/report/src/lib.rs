//! Reports of a model over a range, shared by `GET /api/v1/models/{model}/report` and
//! `modelwatch report` and the Python package's `mw.report`: core builds the
//! [`modelwatch_core::answer::Report`] (summary, metric series, drift, quality, alerts),
//! and this crate renders it as Markdown or as one self-contained
//! HTML page ([`html`]), geographic features drawn on a world map (module `world`).

mod cells;
mod html;
mod markdown;
mod world;

pub use html::html;
pub use markdown::markdown;
pub use world::WORLD_GEOMETRY;
