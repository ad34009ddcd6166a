//! Guides: longer explanations, with examples that are compiled (and, where
//! they need no network, run) as documentation tests.

#[doc = include_str!("../docs/tokens.md")]
pub mod tokens {}
