//! A fixed pool of PKCS#11 sessions, opened once at start-up.
//!
//! `Session` is `Send` but not `Sync`, and opening sessions gets slow when many
//! session objects are alive, so sessions are opened up front and lent out.

use cryptoki::session::Session;
use std::sync::{Condvar, Mutex};

/// A bounded set of open sessions on one token.
pub struct SessionPool {
    idle: Mutex<Idle>,
    returned: Condvar,
}

/// The sessions not lent out, and how many borrowers wait for one: a
/// returned session wakes a waiter only when there is one (a wake-up is a
/// system call).
struct Idle {
    sessions: Vec<Session>,
    waiting: usize,
}

/// A session borrowed from the pool; returned when dropped.
pub struct PooledSession<'a> {
    pool: &'a SessionPool,
    session: Option<Session>,
}

impl SessionPool {
    /// Makes a pool from already-opened sessions.
    pub fn new(sessions: Vec<Session>) -> Self {
        Self {
            idle: Mutex::new(Idle {
                sessions,
                waiting: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// Borrows a session, waiting for one to be returned if all are in use.
    pub fn get(&self) -> PooledSession<'_> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(session) = idle.sessions.pop() {
                return PooledSession {
                    pool: self,
                    session: Some(session),
                };
            }
            idle.waiting += 1;
            idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner());
            idle.waiting -= 1;
        }
    }
}

impl std::ops::Deref for PooledSession<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session.as_ref().expect("session present until drop")
    }
}

impl Drop for PooledSession<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.sessions.push(session);
            if idle.waiting > 0 {
                self.pool.returned.notify_one();
            }
        }
    }
}
