//! Daiban agent app (UI only). Every screen is a Dioxus component; all data goes through
//! [`AppCtx`] to `daiban-agent-core`, which owns SQL, HTTP and photos. Nothing here runs SQL
//! or HTTP itself.
//!
//! * [`app`]: the root component and the route table.
//! * [`views`]: one module per screen; [`components`]: shared building blocks.
//! * [`ctx`]: what every screen can reach (store, sync status, language, thumbnails).
//! * [`preview`]: the liveview browser preview (and the end-to-end test target);
//!   `desktop` launches a native window.

pub mod app;
pub mod components;
pub mod config;
pub mod ctx;
#[cfg(feature = "desktop")]
pub mod desktop;
pub mod i18n;
pub mod platform;
pub mod preview;
pub mod views;

pub use app::App;
pub use ctx::AppCtx;
