//! The root component: provides language, data version and sync status to every screen,
//! and maps routes to screens inside the common shell (top bar, sync strip, bottom nav).

use crate::components::shell::Shell;
use crate::ctx::{use_ctx, DataVersion};
use crate::i18n::Lang;
use crate::views::*;
use daiban_agent_core::sync::SyncStatus;
use daiban_proto::{ApplicationId, DeliveryId, ResidentId};
use dioxus::prelude::*;

const STYLE: &str = include_str!("../assets/style.css");

#[rustfmt::skip]
#[derive(Routable, Clone, Debug, PartialEq)]
pub enum Route {
    #[layout(Shell)]
        #[route("/")]
        Home {},
        #[route("/residents")]
        Residents {},
        #[route("/residents/new")]
        ResidentNew {},
        #[route("/residents/:id")]
        ResidentView { id: ResidentId },
        #[route("/residents/:id/edit")]
        ResidentEdit { id: ResidentId },
        #[route("/services")]
        Services {},
        #[route("/services/item/:code")]
        ItemGuide { code: String },
        #[route("/services/bundle/:code")]
        BundleGuide { code: String },
        #[route("/apply/:resident")]
        ChooseService { resident: ResidentId },
        #[route("/apply-for/:target")]
        ChooseResident { target: String },
        #[route("/applications")]
        Applications {},
        #[route("/applications/:id")]
        ApplicationView { id: ApplicationId },
        #[route("/applications/:id/capture")]
        Capture { id: ApplicationId },
        #[route("/deliveries")]
        Deliveries {},
        #[route("/deliveries/:id")]
        DeliveryView { id: DeliveryId },
        #[route("/sync")]
        SyncView {},
        // anything else (an old link, a mistyped address): the app's own page with a way home
        #[route("/:..segments")]
        NotFound { segments: Vec<String> },
}

/// The app. Expects an [`crate::AppCtx`] in the root context.
#[component]
pub fn App() -> Element {
    let ctx = use_ctx();
    let store = ctx.store.clone();
    let lang = use_context_provider(|| Signal::new(Lang::parse(&store.meta("ui.lang").ok().flatten().unwrap_or_default())));
    let data = use_context_provider(|| DataVersion(Signal::new(0)));
    let mut status = use_context_provider(|| Signal::new(SyncStatus::default()));
    // Follow the sync engine: copy its status into a signal, and re-read stored data when a
    // run changed it.
    let sync = ctx.sync.clone();
    use_future(move || {
        let mut rx = sync.status();
        async move {
            loop {
                let s = rx.borrow_and_update().clone();
                let changed = s.data_version != status.peek().data_version;
                status.set(s);
                if changed {
                    data.bump();
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
    });
    rsx! {
        document::Title { {lang().t("代办", "Daiban")} }
        document::Meta { name: "viewport", content: "width=device-width, initial-scale=1" }
        style { {STYLE} }
        div { class: "app", lang: if lang() == Lang::En { "en" } else { "zh-CN" },
            Router::<Route> {}
        }
    }
}
