//! Client-made identifiers.
//!
//! Every resident, application, delivery and outbox event gets a UUIDv7 made on the device
//! that creates it, so records can be created offline with no coordination and synced later
//! without conflicts. UUIDv7 sorts by creation time, which keeps SQLite/PostgreSQL b-tree
//! inserts append-mostly. Each kind of id is its own type so they cannot be mixed up.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A resident in a village's register.
    ResidentId
);
uuid_id!(
    /// An application (one service item, or a one-thing bundle of several items).
    ApplicationId
);
uuid_id!(
    /// An outbox event; the idempotency key of a push.
    EventId
);
uuid_id!(
    /// An enrolled device (made by the centre at enrolment).
    DeviceId
);
uuid_id!(
    /// A home-delivery task for a result (made by the centre).
    DeliveryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip() {
        let a = ApplicationId::new();
        let b = ApplicationId::new();
        assert!(a < b, "UUIDv7 ids made later sort later");
        let parsed: ApplicationId = a.to_string().parse().unwrap();
        assert_eq!(parsed, a);
        assert_eq!(a.0.get_version_num(), 7);
        assert!("not-a-uuid".parse::<ApplicationId>().is_err());
    }
}
