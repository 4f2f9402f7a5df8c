//! One client process's connection to one node: the process's own task writes each command on
//! the socket and reads its reply, one at a time.
//!
//! A process never has more than one command outstanding (that is what makes `WAIT` count
//! *this connection's* previous write), so the multiplexing of the Redis library's connection
//! bought nothing and cost a driver task per connection: every command crossed a channel to it
//! and every reply came back through another, two task wake-ups per operation on top of the
//! socket's. Here a command is one write(2) from the caller and its reply one read when the
//! socket is readable.
//!
//! Replies are framed and decoded here ([`decode`]): the common RESP2 replies directly, error
//! replies and RESP3's other types by the Redis library's parser once framed, so values and
//! errors are what the library would have produced. A connection whose command timed
//! out or failed is dropped by the client (its stream position is then unknown). A command
//! abandoned mid-way (its future dropped by a timeout around it, as a slot-map refresh inside
//! an operation is) leaves the connection marked [`Connection::desynced`]: its late reply would
//! otherwise be read as the next command's, so the connection refuses further commands and the
//! client opens a new one.

use crate::client::Attempt;
use crate::outcome::Failure;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, Value};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How deeply replies may nest (arrays of arrays...) before the framing refuses them.
const MAX_DEPTH: usize = 64;

/// An open connection to one node.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet decoded.
    input: Vec<u8>,
    /// The command being written.
    output: Vec<u8>,
    /// Whether the node knows `WAITAOF`, once asked.
    pub(crate) waitaof: Option<bool>,
    /// Redis Cluster: `READONLY` was sent, so the node serves reads as a replica.
    pub(crate) readonly: bool,
    /// An exchange began and did not finish: replies may still be on their way.
    in_flight: bool,
}

impl Connection {
    /// Connects to `addr` (no handshake: redline's servers need no AUTH or SELECT).
    pub async fn open(addr: SocketAddr) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            input: Vec::with_capacity(4096),
            output: Vec::with_capacity(256),
            waitaof: None,
            readonly: false,
            in_flight: false,
        })
    }

    /// Whether a command was abandoned before its reply was read: the stream's next reply may
    /// be that command's, so this connection must not be used again.
    pub fn desynced(&self) -> bool {
        self.in_flight
    }

    /// Sends one command; from here on the operation counts as sent (`attempt.sent`), so a
    /// lost reply is indeterminate. Error replies come back as `Err(Failure::Rejected)`.
    pub async fn send(&mut self, cmd: &Cmd, attempt: &mut Attempt) -> Result<Value, Failure> {
        attempt.sent = true;
        let reply = self.command(cmd).await;
        server_error_to_failure(reply.map_err(|e| Failure::from_redis(&e, true))?)
    }

    /// Sends a command that changes nothing (a feature probe) without marking the attempt sent.
    pub async fn probe(&mut self, cmd: &Cmd) -> Result<Value, Failure> {
        let reply = self.command(cmd).await;
        server_error_to_failure(reply.map_err(|e| Failure::from_redis(&e, false))?)
    }

    /// Sends a pipeline of `count` commands and returns every reply, error replies included
    /// as `Value::ServerError` (a transaction's queued-command errors must be seen one by one).
    pub async fn send_pipeline(
        &mut self,
        pipeline: &Pipeline,
        count: usize,
        attempt: &mut Attempt,
    ) -> Result<Vec<Value>, Failure> {
        attempt.sent = true;
        self.output = pipeline.get_packed_pipeline();
        let exchanged = self.exchange(count).await;
        exchanged.map_err(|e| Failure::from_redis(&e, true))
    }

    async fn command(&mut self, cmd: &Cmd) -> Result<Value, RedisError> {
        self.output.clear();
        cmd.write_packed_command(&mut self.output);
        let mut replies = self.exchange(1).await?;
        replies
            .pop()
            .ok_or_else(|| RedisError::from((ErrorKind::Parse, "no reply")))
    }

    /// Writes `output` whole, then reads `count` replies.
    /// Refused on a [`Connection::desynced`] connection. An error leaves it desynced too: the
    /// client drops a connection whose command failed.
    async fn exchange(&mut self, count: usize) -> Result<Vec<Value>, RedisError> {
        if self.in_flight {
            return Err(RedisError::from((
                ErrorKind::Io,
                "connection abandoned mid-command: its replies are out of step",
            )));
        }
        self.in_flight = true;
        self.stream.write_all(&self.output).await?;
        let mut replies = Vec::with_capacity(count);
        while replies.len() < count {
            replies.push(self.reply().await?);
        }
        self.in_flight = false;
        Ok(replies)
    }

    /// The next reply, reading until it is whole.
    async fn reply(&mut self) -> Result<Value, RedisError> {
        loop {
            match decode(&self.input, 0) {
                Err(why) => return Err(RedisError::from((ErrorKind::Parse, "bad reply", why))),
                Ok(Some((value, n))) => {
                    self.input.drain(..n);
                    return Ok(value);
                }
                Ok(None) => {
                    if self.input.capacity() - self.input.len() < 1024 {
                        self.input.reserve(self.input.capacity().max(4096));
                    }
                    if self.stream.read_buf(&mut self.input).await? == 0 {
                        return Err(RedisError::from((
                            ErrorKind::Io,
                            "the server closed the connection",
                        )));
                    }
                }
            }
        }
    }
}

/// An error reply delivered as a value becomes a [`Failure::Rejected`].
pub fn server_error_to_failure(value: Value) -> Result<Value, Failure> {
    match value {
        Value::ServerError(e) => Err(Failure::from_redis(&e.into(), true)),
        other => Ok(other),
    }
}

/// The first whole reply in `buf` and its length, `None` if more bytes are needed, or why the
/// bytes are no reply at all. The common replies (simple strings, integers, bulk strings,
/// arrays, nil) are decoded here; error replies and RESP3's other types go to the library's
/// parser once framed, so they decode exactly as it decodes them.
pub fn decode(buf: &[u8], depth: usize) -> Result<Option<(Value, usize)>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("replies nested deeper than {MAX_DEPTH}"));
    }
    let Some(line_end) = line_end(buf) else {
        return Ok(None);
    };
    let line = &buf[1..line_end];
    let after_line = line_end + 2;
    match buf[0] {
        b'+' if line == b"OK" => Ok(Some((Value::Okay, after_line))),
        b'+' => Ok(Some((
            Value::SimpleString(String::from_utf8_lossy(line).into_owned()),
            after_line,
        ))),
        b':' => Ok(Some((Value::Int(number(buf, line_end)?), after_line))),
        b'$' => match number(buf, line_end)? {
            -1 => Ok(Some((Value::Nil, after_line))),
            n if n >= 0 => {
                let end = after_line + n as usize;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                let bytes = buf[after_line..end].to_vec();
                Ok(Some((Value::BulkString(bytes), end + 2)))
            }
            n => Err(format!("negative length {n}")),
        },
        b'*' => {
            let n = number(buf, line_end)?;
            if n == -1 {
                return Ok(Some((Value::Nil, after_line)));
            }
            let count = usize::try_from(n).map_err(|_| format!("negative count {n}"))?;
            let mut items = Vec::with_capacity(count.min(4096));
            let mut at = after_line;
            for _ in 0..count {
                match decode(&buf[at..], depth + 1)? {
                    Some((item, len)) => {
                        items.push(item);
                        at += len;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Value::Array(items), at)))
        }
        _ => match frame_len(buf, depth)? {
            None => Ok(None),
            Some(n) => redis::parse_redis_value(&buf[..n])
                .map(|v| Some((v, n)))
                .map_err(|e| e.to_string()),
        },
    }
}

/// The length of the first whole reply in `buf` (any RESP2 or RESP3 type), `None` if more
/// bytes are needed, or why the bytes are no reply at all.
pub fn frame_len(buf: &[u8], depth: usize) -> Result<Option<usize>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("replies nested deeper than {MAX_DEPTH}"));
    }
    let Some(line_end) = line_end(buf) else {
        return Ok(None);
    };
    let after_line = line_end + 2;
    match buf[0] {
        // Simple strings, errors, integers; RESP3 null, double, boolean, big number.
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(after_line)),
        // Bulk strings; RESP3 blob errors and verbatim strings.
        b'$' | b'!' | b'=' => match number(buf, line_end)? {
            -1 => Ok(Some(after_line)),
            n if n >= 0 => {
                let end = after_line + n as usize + 2;
                Ok((buf.len() >= end).then_some(end))
            }
            n => Err(format!("negative length {n}")),
        },
        // Arrays; RESP3 sets and pushes (n items), maps and attributes (2n items).
        kind @ (b'*' | b'~' | b'>' | b'%' | b'|') => {
            let n = number(buf, line_end)?;
            if n == -1 {
                return Ok(Some(after_line));
            }
            let items = usize::try_from(n).map_err(|_| format!("negative count {n}"))?;
            let items = if matches!(kind, b'%' | b'|') {
                items.saturating_mul(2)
            } else {
                items
            };
            let mut at = after_line;
            for _ in 0..items {
                match frame_len(&buf[at..], depth + 1)? {
                    Some(len) => at += len,
                    None => return Ok(None),
                }
            }
            Ok(Some(at))
        }
        other => Err(format!("unknown reply type {:?}", other as char)),
    }
}

/// Where the first line of `buf` ends (the position of its `\r\n`).
fn line_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'\r') {
        let at = from + i;
        match buf.get(at + 1) {
            Some(b'\n') => return Some(at),
            Some(_) => from = at + 1,
            None => return None,
        }
    }
    None
}

/// The integer after the type byte of the line ending at `line_end`.
fn number(buf: &[u8], line_end: usize) -> Result<i64, String> {
    std::str::from_utf8(&buf[1..line_end])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "bad number in {:?}",
                String::from_utf8_lossy(&buf[..line_end])
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::net::TcpListener;

    /// A server that answers its first command after 200 ms and each later one at once, with
    /// the number of the command it answers (`:1`, `:2`, ...).
    async fn slow_first_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let mut answered = 0;
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        answered += 1;
                        if answered == 1 {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        let reply = format!(":{answered}\r\n");
                        if s.write_all(reply.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    /// A command abandoned by a timeout around it must not hand its late reply to the next
    /// command (a cluster client read a `CLUSTER SHARDS` reply as a set's members this way).
    #[tokio::test]
    async fn an_abandoned_command_never_hands_its_reply_to_the_next() {
        let addr = slow_first_server().await;
        let mut conn = Connection::open(addr).await.unwrap();
        assert!(!conn.desynced());
        let abandoned =
            tokio::time::timeout(Duration::from_millis(50), conn.probe(&redis::cmd("PING"))).await;
        assert!(abandoned.is_err(), "the first reply comes after 200 ms");
        assert!(conn.desynced());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            conn.probe(&redis::cmd("PING")).await.is_err(),
            "refused, not answered with the first command's reply"
        );
        let mut fresh = Connection::open(addr).await.unwrap();
        assert_eq!(
            fresh.probe(&redis::cmd("PING")).await.unwrap(),
            Value::Int(1)
        );
        assert!(!fresh.desynced());
    }

    #[test]
    fn frames_are_found_whole_or_not_at_all() {
        let whole: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR no\r\n",
            b":42\r\n",
            b"$-1\r\n",
            b"$5\r\nhello\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b"*3\r\n$1\r\n1\r\n:2\r\n*1\r\n$2\r\n\r\n\r\n",
        ];
        for frame in whole {
            assert_eq!(frame_len(frame, 0), Ok(Some(frame.len())), "{frame:?}");
            for cut in 0..frame.len() {
                assert_eq!(
                    frame_len(&frame[..cut], 0),
                    Ok(None),
                    "{frame:?} cut at {cut}"
                );
            }
            let mut two = frame.to_vec();
            two.extend_from_slice(b"+next\r\n");
            assert_eq!(frame_len(&two, 0), Ok(Some(frame.len())));
        }
        assert!(frame_len(b"?what\r\n", 0).is_err());
        assert!(frame_len(b"$x\r\n", 0).is_err());
    }

    /// What the decoder makes of a reply is what the library's parser makes of it.
    #[test]
    fn decoding_agrees_with_the_library() {
        let replies: &[&[u8]] = &[
            b"+OK\r\n",
            b":-42\r\n",
            b"$-1\r\n",
            b"$0\r\n\r\n",
            b"$7\r\nhel\rlo\n\r\n",
            b"*-1\r\n",
            b"*3\r\n$1\r\n1\r\n:2\r\n*1\r\n$-1\r\n",
            b"-ERR unknown command\r\n",
            b"*2\r\n-EXECABORT x\r\n+QUEUED\r\n",
            b"#t\r\n",
        ];
        for reply in replies {
            let ours = decode(reply, 0).unwrap().unwrap();
            let theirs = redis::parse_redis_value(reply).unwrap();
            assert_eq!(ours, (theirs, reply.len()), "{reply:?}");
            for cut in 0..reply.len() {
                assert_eq!(decode(&reply[..cut], 0), Ok(None), "{reply:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn error_replies_decode_as_server_errors() {
        let value = redis::parse_redis_value(b"-READONLY You can't write\r\n").unwrap();
        match server_error_to_failure(value) {
            Err(Failure::Rejected { code, .. }) => assert_eq!(code, "READONLY"),
            other => panic!("{other:?}"),
        }
    }

    /// A reply split over many reads is put together; one connection carries many commands.
    #[tokio::test]
    async fn replies_split_over_reads_are_put_together() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            for reply in [&b"*2\r\n$3\r\nabc\r\n:7\r\n"[..], b"-ERR nope\r\n"] {
                let _ = s.read(&mut buf).await.unwrap();
                for byte in reply {
                    s.write_all(&[*byte]).await.unwrap();
                    s.flush().await.unwrap();
                }
            }
        });
        let mut conn = Connection::open(addr).await.unwrap();
        let mut attempt = Attempt::default();
        let reply = conn.send(&redis::cmd("X"), &mut attempt).await.unwrap();
        assert_eq!(
            reply,
            Value::Array(vec![Value::BulkString(b"abc".to_vec()), Value::Int(7)])
        );
        let err = conn.send(&redis::cmd("Y"), &mut attempt).await.unwrap_err();
        assert!(matches!(err, Failure::Rejected { .. }), "{err:?}");
        server.await.unwrap();
    }
}
