//! Daiban township centre server (镇便民服务中心).
//!
//! - [`store`]: storage behind one [`store::Store`] trait, on SQLite (default) or PostgreSQL,
//!   with the domain rules (ingest of agents' events, staff decisions, change feeds).
//! - [`backup`]: back up, check and restore a SQLite centre (database + photos) while it runs.
//! - [`blobs`]: photo bytes behind [`blobs::PhotoBlobs`] (filesystem by default).
//! - [`api`]: the sync API for agents' phones (axum), including tus photo uploads and the
//!   OpenAPI document.
//! - [`photo_check`]: what an uploaded photo must be (a whole JPEG of a sane size).
//! - [`retention`]: photos of closed cases purged after a set number of days.
//! - [`tls`]: HTTPS (rustls) for `serve --tls-cert --tls-key`.
//! - [`admin`]: setting up a real township (`daiban-centre admin …`): township, villages
//!   from CSV, staff accounts, catalogue, enrolment codes.
//! - [`demo`]: a seeded demo centre (桃源镇) for trying the app end to end.
//! - [`web`]: the township staff's web UI (inbox, review, statistics, devices), under `/staff/`.

pub mod admin;
pub mod api;
pub mod backup;
pub mod blobs;
pub mod catalogue;
pub mod demo;
pub mod photo_check;
pub mod retention;
pub mod store;
pub mod tls;
pub mod web;
