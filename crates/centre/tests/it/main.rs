//! Integration tests of the centre, one test binary: storage stories on both backends, the
//! HTTP sync API against a real server on 127.0.0.1:0, tus uploads (including a real
//! third-party tus client), the OpenAPI document.

mod http;
mod story;
mod support;
mod tus;
mod tuspy;
