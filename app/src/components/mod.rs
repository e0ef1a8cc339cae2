pub mod layout;
pub mod live;
pub mod live_strip;
pub mod ui;
