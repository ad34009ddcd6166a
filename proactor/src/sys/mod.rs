//! Operating-system specific code, one module per platform.

/// The descriptor half of a `Poller` that has no descriptors (the portable
/// waiter): registering fails, so no I/O object opens and the other two
/// are never reached. `$why` is the error.
#[cfg(not(any(target_os = "linux", windows, loom)))]
macro_rules! no_descriptors {
    ($why:literal) => {
        pub(crate) fn register(
            &self,
            _fd: crate::reactor::op::RawFd,
            _state: std::ptr::NonNull<crate::reactor::descriptor::DescriptorState>,
        ) -> std::io::Result<u32> {
            Err(std::io::Error::new(std::io::ErrorKind::Unsupported, $why))
        }

        pub(crate) fn want_write(
            &self,
            _fd: crate::reactor::op::RawFd,
            _state: std::ptr::NonNull<crate::reactor::descriptor::DescriptorState>,
            current: u32,
        ) -> std::io::Result<u32> {
            Ok(current)
        }

        pub(crate) fn deregister(&self, _fd: crate::reactor::op::RawFd) {}
    };
}

pub(crate) mod prefetch;

#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) mod linux;
#[cfg(not(any(target_os = "linux", windows, loom)))]
mod portable;
#[cfg(all(windows, not(loom)))]
pub(crate) mod windows;

#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) use crate::reactor::uring::OpSlot;
#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) use linux::Poller;
#[cfg(not(any(target_os = "linux", windows, loom)))]
pub(crate) use portable::Poller;
#[cfg(all(windows, not(loom)))]
pub(crate) use windows::{OpSlot, Poller};
