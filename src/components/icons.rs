//! Inline SVG icons, so the app needs no icon font or emoji font (cheap phones often lack
//! colour emoji, and the app must work offline from the first start).

use dioxus::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Icon {
    Home,
    People,
    List,
    Folder,
    Camera,
}

#[component]
pub fn Ico(icon: Icon) -> Element {
    let d = match icon {
        Icon::Home => "M3 11 L12 3 L21 11 M5 9.5 V21 H10 V15 H14 V21 H19 V9.5",
        Icon::People => "M9 11 a4 4 0 1 0 0.01 0 M2 21 c0-4 3-6 7-6 s7 2 7 6 M16 4.5 a3.5 3.5 0 0 1 0 7 M18 14.5 c2.5 0.8 4 2.8 4 5.5",
        Icon::List => "M8 6 H21 M8 12 H21 M8 18 H21 M3.5 6 h0.01 M3.5 12 h0.01 M3.5 18 h0.01",
        Icon::Folder => "M3 6 a1 1 0 0 1 1-1 H9 L11 7 H20 a1 1 0 0 1 1 1 V19 a1 1 0 0 1-1 1 H4 a1 1 0 0 1-1-1 Z M3 10 H21",
        Icon::Camera => "M3 8 a1 1 0 0 1 1-1 H7.5 L9 5 H15 L16.5 7 H20 a1 1 0 0 1 1 1 V19 a1 1 0 0 1-1 1 H4 a1 1 0 0 1-1-1 Z M12 10 a3.5 3.5 0 1 0 0.01 0",
    };
    rsx! {
        svg { class: "ico", view_box: "0 0 24 24", width: "24", height: "24", fill: "none", stroke: "currentColor",
            stroke_width: "2", stroke_linecap: "round", stroke_linejoin: "round", "aria-hidden": "true",
            path { d: "{d}" }
        }
    }
}
