//! The native desktop window (development, and the shape of the mobile shells): a
//! phone-sized window running the same `App`.

use crate::{App, AppCtx};
use dioxus::desktop::{Config, LogicalSize, WindowBuilder};

pub fn launch(ctx: AppCtx) {
    let window = WindowBuilder::new().with_title("代办 Daiban").with_inner_size(LogicalSize::new(400.0, 780.0));
    dioxus::LaunchBuilder::desktop().with_cfg(Config::new().with_window(window).with_menu(None)).with_context(ctx).launch(App);
}
