//! Building blocks shared by several screens.

pub mod fields;
pub mod icons;
pub mod photos;
pub mod shell;
pub mod status;

pub use fields::{ErrorList, TextField};
pub use photos::{PhotoAdder, Thumbs};
pub use status::StatusChip;
