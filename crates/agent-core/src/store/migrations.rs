//! The local database schema: append-only SQL migrations in `crates/agent-core/migrations/`,
//! embedded in the binary by refinery at compile time.
//!
//! Never edit a migration that has shipped: phones in the field have applied it. Add a new
//! file `V<n>__<what>.sql` instead. refinery records what it applied in
//! `refinery_schema_history` and refuses to run if an applied migration was changed.

refinery::embed_migrations!("migrations");

pub use migrations::runner;
