//! `AcceptEx` and `ConnectEx`: Winsock extensions that are not exported
//! by name but asked of the socket's provider (`WSAIoctl` with
//! `SIO_GET_EXTENSION_FUNCTION_POINTER`).
//!
//! They are looked up once, on the first socket that needs them, and kept
//! for the process: TCP over IPv4 and IPv6 share Microsoft's provider (and
//! wine's), which is what Asio assumes too.

use std::io;
use std::mem;
use std::ptr;
use std::sync::OnceLock;
use windows_sys::core::GUID;
use windows_sys::Win32::Networking::WinSock::{
    WSAIoctl, LPFN_ACCEPTEX, LPFN_CONNECTEX, SIO_GET_EXTENSION_FUNCTION_POINTER, SOCKET,
    SOCKET_ERROR, WSAID_ACCEPTEX, WSAID_CONNECTEX,
};

/// The extension functions.
pub(crate) struct Extensions {
    pub(crate) accept_ex: AcceptExFn,
    pub(crate) connect_ex: ConnectExFn,
}

/// `AcceptEx`, known to be present.
pub(crate) type AcceptExFn = <LPFN_ACCEPTEX as IntoIterator>::Item;
/// `ConnectEx`, known to be present.
pub(crate) type ConnectExFn = <LPFN_CONNECTEX as IntoIterator>::Item;

static EXTENSIONS: OnceLock<Extensions> = OnceLock::new();

/// The extensions, looked up through `s` the first time.
pub(crate) fn get(s: SOCKET) -> io::Result<&'static Extensions> {
    if let Some(e) = EXTENSIONS.get() {
        return Ok(e);
    }
    // SAFETY: each GUID names a function of the type we read it as (the
    // `LPFN_*` types are the documented signatures).
    let loaded = unsafe {
        Extensions {
            accept_ex: lookup::<LPFN_ACCEPTEX>(s, WSAID_ACCEPTEX)?.ok_or_else(missing)?,
            connect_ex: lookup::<LPFN_CONNECTEX>(s, WSAID_CONNECTEX)?.ok_or_else(missing)?,
        }
    };
    Ok(EXTENSIONS.get_or_init(|| loaded))
}

fn missing() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the socket provider lacks AcceptEx/ConnectEx",
    )
}

/// Asks `s`'s provider for the function `id`.
///
/// # Safety
/// `F` is the `Option<fn>` type of the function `id` names.
unsafe fn lookup<F>(s: SOCKET, id: GUID) -> io::Result<F> {
    let mut f = mem::MaybeUninit::<F>::zeroed();
    let mut got = 0u32;
    // SAFETY: `id` is readable and `f` writable for the sizes given, for
    // the whole (synchronous: no overlapped) call.
    let r = unsafe {
        WSAIoctl(
            s,
            SIO_GET_EXTENSION_FUNCTION_POINTER,
            ptr::addr_of!(id).cast(),
            mem::size_of::<GUID>() as u32,
            f.as_mut_ptr().cast(),
            mem::size_of::<F>() as u32,
            &mut got,
            ptr::null_mut(),
            None,
        )
    };
    if r == SOCKET_ERROR {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zeroed is `None` for an `Option<fn>`; the call wrote a
    // function pointer of type `F` otherwise (caller's contract).
    Ok(unsafe { f.assume_init() })
}
