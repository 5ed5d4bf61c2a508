//! A connection's socket with a write deadline: a write that can make no
//! progress (the client does not read what it asked for, so the socket's
//! buffers are full) for [`WriteDeadline`]'s stall time fails with
//! `TimedOut`, and hyper then drops the connection. Reads are left alone:
//! hyper's header timer and the body deadline bound those, and a
//! connection whose request is in service (a long poll) reads nothing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub struct WriteDeadline<S> {
    inner: S,
    stall: Duration,
    /// Running while a write is blocked; reset by any progress.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, stall: Duration) -> Self {
        WriteDeadline { inner, stall, timer: None }
    }

    /// Called when a write is blocked: arms the timer, or fails once it ran out.
    fn blocked(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let stall = self.stall;
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + stall)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, format!("the client read nothing of the response for {stall:?}")))
    }

    fn progressed<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(done) => {
                self.timer = None;
                Poll::Ready(done)
            }
            Poll::Pending => self.blocked(cx).map(Err),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progressed(cx, result)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progressed(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.progressed(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progressed(cx, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_write_nobody_reads_fails_after_the_stall_time() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut io = WriteDeadline::new(ours, Duration::from_millis(200));
        let error = tokio::time::timeout(Duration::from_secs(10), io.write_all(&[7; 1000])).await.expect("the write gave up").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(error.to_string().contains("read nothing of the response for 200ms"), "{error}");
        let mut buf = [0; 64];
        assert_eq!(theirs.read(&mut buf).await.unwrap(), 64, "what fitted was written");
    }

    #[tokio::test]
    async fn a_reader_that_keeps_up_is_never_cut_however_long_it_takes() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        // Each read comes well within the stall time; the whole takes longer.
        let mut io = WriteDeadline::new(ours, Duration::from_millis(500));
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0; 64];
            while got < 1000 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                got += theirs.read(&mut buf).await.unwrap();
            }
            got
        });
        io.write_all(&[7; 1000]).await.expect("steady progress is not a stall");
        assert_eq!(reader.await.unwrap(), 1000);
    }
}
