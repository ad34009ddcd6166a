//! Operating-system specific code, one module per platform.

#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) mod linux;
#[cfg(not(any(target_os = "linux", loom)))]
mod portable;

#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) use linux::epoll::Poller;
#[cfg(not(any(target_os = "linux", loom)))]
pub(crate) use portable::Poller;
