//! The request a thread is working for, so that every log line it writes
//! meanwhile names the request's id. A `tracing` span did this before; a
//! thread-local set around each piece of the request's work costs a
//! fraction of a span's creation, entries, exits and close.

use pin_project_lite::pin_project;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

thread_local! {
    static CURRENT: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// The id of the request this thread works for, if any.
pub fn current_request() -> Option<Arc<str>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Runs `work` with log lines naming request `id`; the thread's previous
/// request, if any, is restored after.
pub fn within<T>(id: &Arc<str>, work: impl FnOnce() -> T) -> T {
    let _scope = Scope::enter(id);
    work()
}

/// While alive, this thread's log lines name one request.
struct Scope {
    previous: Option<Arc<str>>,
}

impl Scope {
    fn enter(id: &Arc<str>) -> Scope {
        let previous = CURRENT.with(|current| current.replace(Some(Arc::clone(id))));
        Scope { previous }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|current| *current.borrow_mut() = self.previous.take());
    }
}

pin_project! {
    /// A future whose every poll runs with log lines naming one request.
    pub struct Within<F> {
        id: Arc<str>,
        #[pin]
        inner: F,
    }
}

impl<F> Within<F> {
    /// `inner`, polled as work of request `id`.
    pub fn new(id: &Arc<str>, inner: F) -> Within<F> {
        Within {
            id: Arc::clone(id),
            inner,
        }
    }
}

impl<F: Future> Future for Within<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _scope = Scope::enter(this.id);
        this.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_names_its_request_and_restores_the_previous_one() {
        let outer: Arc<str> = Arc::from("outer");
        let inner: Arc<str> = Arc::from("inner");
        assert_eq!(current_request(), None);
        within(&outer, || {
            assert_eq!(current_request().as_deref(), Some("outer"));
            within(&inner, || {
                assert_eq!(current_request().as_deref(), Some("inner"));
            });
            assert_eq!(current_request().as_deref(), Some("outer"));
        });
        assert_eq!(current_request(), None);
    }

    #[test]
    fn a_future_names_its_request_only_while_it_is_polled() {
        let id: Arc<str> = Arc::from("polled");
        let seen = block_on(Within::new(&id, async { current_request() }));
        assert_eq!(seen.as_deref(), Some("polled"));
        assert_eq!(current_request(), None);
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }
}
