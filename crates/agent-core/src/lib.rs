//! Daiban agent core: everything the agent app does that is not drawing the screen.
//!
//! * [`store`]: the local SQLite store (catalogue, residents, applications, materials,
//!   outbox), durable the moment a call returns.
//! * [`sync`]: the sync engine (enrolment, outbox push, tus photo upload, pull).
//! * [`photo`]: the photo pipeline (decode, EXIF orientation, downscale, re-encode, strip
//!   metadata, content-addressed storage with temp-file + fsync + rename).
//!
//! This crate knows nothing of Dioxus and runs headless, so the same code drives the app,
//! crash tests, fault-injection tests and load generators.

pub mod catalogue;
pub mod crypt;
pub mod forms;
pub mod photo;
pub mod signature;
pub mod store;
pub mod sync;
pub mod thumbnail;

pub use store::{Store, StoreError};
