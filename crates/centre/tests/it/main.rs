//! Integration tests of the centre, one test binary: storage stories on both backends, the
//! HTTP sync API against a real server on 127.0.0.1:0, tus uploads (including a real
//! third-party tus client), the OpenAPI document, and the README's township set-up.

mod http;
mod setup;
mod story;
mod support;
mod tus;
mod tuspy;
