//! A kernel pipe and splice(2): how the proxy moves the bytes of an open, undelayed link from
//! one socket to the other without copying them through user space.
//!
//! `splice` moves data between a file descriptor and a pipe inside the kernel; socket -> pipe
//! -> socket relays a TCP stream with two system calls and no copy into redline's memory. Both
//! ends are non-blocking (tokio's sockets are, and the pipe is made so), so a call that cannot
//! proceed returns `WouldBlock`, which tokio's `try_io` turns into waiting for readiness.
//!
//! The unsafe code is confined here: `pipe2`, `splice` and `close` on descriptors this type
//! owns, or on a socket descriptor the caller borrows for the duration of the call.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// The most bytes one splice moves: the default capacity of a Linux pipe.
pub const PIPE_CAPACITY: usize = 64 * 1024;

/// A non-blocking pipe, and how many bytes are in it.
#[derive(Debug)]
pub struct Pipe {
    read: RawFd,
    write: RawFd,
    /// Bytes spliced in and not yet spliced out.
    pending: usize,
}

impl Pipe {
    /// A new, empty pipe.
    pub fn new() -> io::Result<Pipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Pipe {
            read: fds[0],
            write: fds[1],
            pending: 0,
        })
    }

    /// Bytes in the pipe, waiting to be spliced out.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Moves what `from` has to read (up to [`PIPE_CAPACITY`]) into the pipe. `Ok(0)` is the
    /// end of the stream.
    pub fn fill_from(&mut self, from: &impl AsRawFd) -> io::Result<usize> {
        let room = PIPE_CAPACITY - self.pending;
        let n = splice(from.as_raw_fd(), self.write, room)?;
        self.pending += n;
        Ok(n)
    }

    /// Moves bytes from the pipe into `to`, as many as it takes now.
    pub fn drain_into(&mut self, to: &impl AsRawFd) -> io::Result<usize> {
        let n = splice(self.read, to.as_raw_fd(), self.pending)?;
        if n == 0 && self.pending > 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "splice into the socket moved nothing",
            ));
        }
        self.pending -= n;
        Ok(n)
    }
}

impl Pipe {
    /// Reads everything in the pipe into user space: for bytes spliced in just as their link
    /// became delayed, which must then wait like any other delayed chunk.
    pub fn take(&mut self) -> io::Result<Vec<u8>> {
        let mut out = vec![0u8; self.pending];
        let mut filled = 0;
        while filled < out.len() {
            let rest = &mut out[filled..];
            // SAFETY: `rest` is valid writable memory of `rest.len()` bytes; `self.read` is
            // this pipe's open read end.
            let n = unsafe { libc::read(self.read, rest.as_mut_ptr().cast(), rest.len()) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                break;
            }
            filled += n as usize;
        }
        out.truncate(filled);
        self.pending -= filled;
        Ok(out)
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // SAFETY: both descriptors were opened by `new` and are closed only here.
        unsafe {
            libc::close(self.read);
            libc::close(self.write);
        }
    }
}

/// One non-blocking splice of up to `len` bytes from `from` to `to`.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    // SAFETY: null offsets are allowed (both ends are a pipe or a socket); the descriptors are
    // open for the duration of the call (owned by `Pipe`, or borrowed from a live socket).
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            flags,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn bytes_go_through_in_order_and_the_end_is_seen() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (middle_in, _) = listener.accept().unwrap();
        let listener2 = TcpListener::bind("127.0.0.1:0").unwrap();
        let middle_out = TcpStream::connect(listener2.local_addr().unwrap()).unwrap();
        let (mut receiver, _) = listener2.accept().unwrap();
        middle_in.set_nonblocking(true).unwrap();

        let mut pipe = Pipe::new().unwrap();
        let would_block = pipe.fill_from(&middle_in).unwrap_err();
        assert_eq!(would_block.kind(), io::ErrorKind::WouldBlock);

        let message: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut received = Vec::new();
        let mut sent = 0;
        let mut eof = false;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !eof {
            assert!(std::time::Instant::now() < deadline, "relay stalled");
            if sent < message.len() {
                let end = (sent + 7_000).min(message.len());
                sender.write_all(&message[sent..end]).unwrap();
                sent = end;
                if sent == message.len() {
                    sender.shutdown(std::net::Shutdown::Write).unwrap();
                }
            }
            match pipe.fill_from(&middle_in) {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            while pipe.pending() > 0 {
                pipe.drain_into(&middle_out).unwrap();
            }
        }
        drop(middle_out);
        receiver.read_to_end(&mut received).unwrap();
        assert_eq!(received, message);
    }
}
