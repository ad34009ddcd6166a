//! Which operating-system facility a context's I/O runs on.

/// The I/O backend of a context (see [`IoContext::backend`]).
///
/// On Linux it is epoll unless `PROACTOR_BACKEND=io_uring` is set in the
/// environment and the kernel grants an io_uring with what the backend
/// needs; on Windows it is a completion port.
///
/// ```
/// use proactor::{Backend, IoContext};
///
/// let ctx = IoContext::new()?;
/// let backend = ctx.backend()?;
/// if cfg!(target_os = "linux") {
///     assert!(matches!(backend, Backend::Epoll | Backend::IoUring));
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// [`IoContext::backend`]: crate::IoContext::backend
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Readiness through epoll (Linux), as Asio's `epoll_reactor`.
    Epoll,
    /// Completions through an io_uring (Linux), as Asio's
    /// `io_uring_service`.
    IoUring,
    /// Completions through an I/O completion port (Windows), as Asio's
    /// `win_iocp_io_context`.
    Iocp,
    /// Timers only, where there is no supported I/O facility.
    Portable,
}
