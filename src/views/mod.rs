//! One module per screen. Screens read through the store in memos that depend on the data
//! version, and write through store calls followed by `DataVersion::bump`.

mod applications;
mod capture;
mod deliveries;
mod home;
mod not_found;
mod resident_form;
mod residents;
mod services;
mod sync;

pub use applications::{ApplicationView, Applications};
pub use capture::Capture;
pub use deliveries::{Deliveries, DeliveryView};
pub use home::Home;
pub use not_found::NotFound;
pub use resident_form::{ResidentEdit, ResidentNew};
pub use residents::{ResidentView, Residents};
pub use services::{BundleGuide, ChooseResident, ChooseService, ItemGuide, Services};
pub use sync::SyncView;
