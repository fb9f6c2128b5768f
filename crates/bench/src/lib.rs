//! modelwatch's load generator, behind `modelwatch bench`: it measures a server from
//! the outside, over HTTP, as a client would.
//!
//! # Layout
//! - [`ingest`]: durable ingest throughput, server memory and metrics-query latency
//!   (`--scenario ingest`, the default).
//! - [`alerts`]: many rules over many models, and the delay from the ingest answer that
//!   completes a span to the webhook delivery of the alert it causes.
//! - [`overload`]: an open-loop load above what the server absorbs, to show that it
//!   pushes back instead of growing its memory.
//! - [`slowloris`]: sockets that trickle a request header beside normal ingest, with
//!   `/healthz` probed for its latency.
//! - [`target`]: the server under load, a child `modelwatch serve` on a temporary store
//!   or one given by URL, and its CPU time and memory read from `/proc`.
//! - [`workload`]: the benchmark model and its generated events.
//! - [`client`]: HTTP helpers (a checked `PUT`, the wait a `Retry-After` asks for),
//!   shared with `modelwatch demo`.
//!
//! Each scenario's `run` prints its figures to stdout and fails if the server did not
//! behave as the scenario expects.

pub mod alerts;
pub mod client;
pub mod ingest;
pub mod overload;
pub mod slowloris;
pub mod target;
pub mod workload;
