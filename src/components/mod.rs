//! Building blocks shared by several screens.

pub mod draft;
pub mod fields;
pub mod icons;
pub mod photos;
pub mod shell;
pub mod status;

pub use draft::DeleteDraft;
pub use fields::{ErrorList, ReadError, TextField};
pub use photos::{PhotoAdder, Thumbs};
pub use status::StatusChip;
