//! Operating-system specific code, one module per platform.

#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) mod linux;
