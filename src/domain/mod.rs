//! The domain: the values that travel through commentwatch — comments and
//! their authors, source names and the platforms they belong to, video ids,
//! schedules, the settings error — with the pure rules that belong to them.
//!
//! It performs no I/O, reads no clock (callers pass `now`) and imports nothing
//! else of the crate: every other module may depend on it, it depends on none.

pub mod comment;
pub mod error;
pub mod event;
pub mod platform;
pub mod schedule;
pub mod secret;
pub mod video;

pub use comment::{Amount, Author, Comment, RawAmount, RawComment, SafeHtml, rfc3339};
pub use error::ConfigError;
pub use event::{Event, EventType, Kind, PollOption, Role};
pub use platform::{
    PLATFORM_NAMES, Platform, SourceSpec, allow_image_host, extra_image_hosts, image_host_allowed,
    image_hosts,
};
pub use schedule::Schedule;
pub use secret::{Secret, redact};
