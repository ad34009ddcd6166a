//! The chat protocol (Asio's chat example): a 4-digit decimal body length,
//! then the body (at most 512 bytes).

pub const HEADER: usize = 4;
pub const MAX_BODY: usize = 512;

/// Frames `body` (cut to `MAX_BODY` bytes).
pub fn encode(body: &[u8]) -> Vec<u8> {
    let body = &body[..body.len().min(MAX_BODY)];
    let mut m = format!("{:4}", body.len()).into_bytes();
    m.extend_from_slice(body);
    m
}

/// The body length a header announces, if valid.
pub fn body_len(header: &[u8]) -> Option<usize> {
    let n: usize = std::str::from_utf8(header).ok()?.trim().parse().ok()?;
    (n <= MAX_BODY).then_some(n)
}
