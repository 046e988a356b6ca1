//! A bound on open client connections: past it, a new connection is closed
//! as soon as it is accepted, so that idle or slow clients cannot use up
//! the process's file descriptors (which SQLite, the audit trail and the
//! PKCS#11 module need too) or its memory.

use axum_server::accept::Accept;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An acceptor that admits at most a fixed number of open connections
/// before handing each to `inner` (plain, or the TLS handshake).
#[derive(Clone)]
pub struct LimitAcceptor<A> {
    open: Arc<Semaphore>,
    inner: A,
}

impl<A> LimitAcceptor<A> {
    /// At most `max` connections open at once, each then accepted by `inner`.
    pub fn new(max: usize, inner: A) -> Self {
        Self {
            open: Arc::new(Semaphore::new(max)),
            inner,
        }
    }
}

/// A connection that counts as open until it is dropped.
pub struct Counted<I> {
    io: I,
    _open: OwnedSemaphorePermit,
}

impl<I, S, A> Accept<I, S> for LimitAcceptor<A>
where
    A: Accept<Counted<I>, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(A::Stream, A::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(permit) = self.open.clone().try_acquire_owned() else {
            tracing::warn!("connection refused: too many open connections");
            let refused = io::Error::other("too many open connections");
            return Box::pin(std::future::ready(Err(refused)));
        };
        Box::pin(self.inner.accept(
            Counted {
                io: stream,
                _open: permit,
            },
            service,
        ))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Counted<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Counted<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Raises the soft limit on open files to the hard limit, so that
/// `max_connections` connections fit beside the store's, the audit
/// trail's and the PKCS#11 module's files. Returns the soft limit now.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}
