//! Linux.

pub(crate) mod futex;
