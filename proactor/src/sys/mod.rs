//! Operating-system specific code, one module per platform.

#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) mod linux;
#[cfg(not(all(target_os = "linux", not(loom))))]
mod portable;

#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) use linux::epoll::Poller;
#[cfg(not(all(target_os = "linux", not(loom))))]
pub(crate) use portable::Poller;
