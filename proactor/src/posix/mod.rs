//! POSIX-specific I/O objects.

mod stream_descriptor;

pub use stream_descriptor::StreamDescriptor;
