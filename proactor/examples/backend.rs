//! Prints the I/O backend a context gets here: `Epoll` or `IoUring` on
//! Linux (as `PROACTOR_BACKEND` asks and the kernel allows), `Iocp` on
//! Windows.
//!
//! ```sh
//! PROACTOR_BACKEND=io_uring cargo run --example backend
//! ```

fn main() -> std::io::Result<()> {
    let ctx = proactor::IoContext::new()?;
    println!("{:?}", ctx.backend()?);
    Ok(())
}
