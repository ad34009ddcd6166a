//! The members every I/O object shares, generated for types that hold their
//! [`IoCore`](super::IoCore) in a `core: Arc<IoCore>` field.

/// `cancel`, `close`, `is_open`, `executor`, and closing on drop. `$path`
/// is the type's public path (for the examples).
macro_rules! io_object {
    ($ty:ident, $path:literal) => {
        impl $ty {
            /// Pending operations complete with "operation aborted"; the
            /// object stays open and usable.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(x: &", $path, ") {")]
            /// x.cancel();
            /// # }
            /// ```
            pub fn cancel(&self) {
                self.core.cancel()
            }

            /// Closes the descriptor; pending operations complete with
            /// "operation aborted". Closing twice is harmless.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(x: &", $path, ") -> std::io::Result<()> {")]
            /// x.close()?;
            /// # Ok(()) }
            /// ```
            pub fn close(&self) -> std::io::Result<()> {
                self.core.close()
            }

            /// True while the object holds an open descriptor.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(x: &", $path, ") {")]
            /// if x.is_open() { /* ... */ }
            /// # }
            /// ```
            pub fn is_open(&self) -> bool {
                self.core.is_open()
            }

            /// The executor the object's handlers run on.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(x: &", $path, ") {")]
            /// let ex = x.executor().clone();
            /// # }
            /// ```
            pub fn executor(&self) -> &$crate::IoExecutor {
                self.core.executor()
            }
        }

        impl Drop for $ty {
            fn drop(&mut self) {
                let _ = self.core.close();
            }
        }
    };
}
pub(crate) use io_object;

/// Implements [`AsyncConnect`](crate::AsyncConnect) for a stream socket and
/// its reference type, given how to make a socket address of an endpoint.
macro_rules! impl_connect {
    ($ty:ty, $ref:ident, $endpoint:ty, $addr:expr) => {
        impl $crate::AsyncConnect for $ty {
            type Endpoint = $endpoint;
            type ConnectRef = $ref;

            fn connect_ref(&self) -> $ref {
                $ref {
                    core: self.core.clone(),
                }
            }

            fn async_connect_one<T: $crate::CompletionToken<(std::io::Result<()>,)>>(
                &self,
                ep: $endpoint,
                token: T,
            ) -> T::Output {
                let addr: std::io::Result<socket2::SockAddr> = ($addr)(&ep);
                match addr {
                    Ok(addr) => token.launch($crate::io::ConnectInit::new(&self.core, addr)),
                    Err(e) => token.launch($crate::io::FailWith::new(
                        &self.core,
                        $crate::io::ops::ConnectWait::new(),
                        e,
                    )),
                }
            }

            fn close_for_retry(&self) -> std::io::Result<()> {
                self.core.close()
            }

            fn connect_executor(&self) -> $crate::IoExecutor {
                self.core.executor().clone()
            }
        }
    };
}
pub(crate) use impl_connect;

/// `async_send` and `async_receive` for a connected datagram socket.
macro_rules! impl_connected_datagram {
    ($ty:ident, $path:literal) => {
        impl $ty {
            /// Sends `buf[..len]` as one datagram to the connected peer.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(s: &", $path, ") {")]
            /// s.async_send(b"ping", |r: std::io::Result<usize>, _: &'static [u8; 4]| { let _ = r; });
            /// # }
            /// ```
            pub fn async_send<
                B: $crate::IoBuf,
                T: $crate::CompletionToken<(std::io::Result<usize>, B)>,
            >(
                &self,
                buf: B,
                token: T,
            ) -> T::Output {
                token.launch($crate::io::Start {
                    core: self.core.clone(),
                    op: $crate::io::ops::WriteSome::new(buf, $crate::io::ops::Io::Socket),
                    kind: $crate::reactor::op::OpKind::Write,
                })
            }

            /// Receives one datagram from the connected peer into the spare
            /// capacity of `buf`.
            ///
            /// ```no_run
            #[doc = concat!("# fn f(s: &", $path, ") {")]
            /// s.async_receive(Vec::with_capacity(1500), |r: std::io::Result<usize>, buf: Vec<u8>| { let _ = (r, buf); });
            /// # }
            /// ```
            pub fn async_receive<
                B: $crate::IoBufMut,
                T: $crate::CompletionToken<(std::io::Result<usize>, B)>,
            >(
                &self,
                buf: B,
                token: T,
            ) -> T::Output {
                token.launch($crate::io::Start {
                    core: self.core.clone(),
                    op: $crate::io::ops::ReadSome::new(buf, $crate::io::ops::Io::Socket, false),
                    kind: $crate::reactor::op::OpKind::Read,
                })
            }
        }
    };
}
pub(crate) use impl_connected_datagram;
