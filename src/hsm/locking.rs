//! The mutexes a PKCS#11 library locks with, handed to it in `C_Initialize`.
//!
//! Left to its own (`CKF_OS_LOCKING_OK`), SoftHSM guards its shared state
//! (handle table, object store, secure-memory registry) with plain pthread
//! mutexes: a thread that finds one taken sleeps in the kernel, and the
//! holder wakes it with another system call. With many session objects its
//! critical sections walk large trees, two threads collide in them several
//! times a request, and each collision costs two system calls and often a
//! context switch. A `parking_lot` mutex spins briefly before it sleeps, so
//! most collisions cost none (docs/adr/0020-library-mutexes.md).

use cryptoki_sys::{
    CK_C_INITIALIZE_ARGS, CK_RV, CKF_OS_LOCKING_OK, CKR_ARGUMENTS_BAD, CKR_MUTEX_BAD,
    CKR_MUTEX_NOT_LOCKED, CKR_OK,
};
use parking_lot::RawMutex;
use parking_lot::lock_api::RawMutex as _;
use std::ffi::c_void;

/// `C_Initialize`'s arguments: Trent's mutex functions, with leave to use
/// the operating system's locking instead (a library may choose either).
pub(super) fn with_trent_mutexes() -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: Some(create),
        DestroyMutex: Some(destroy),
        LockMutex: Some(lock),
        UnlockMutex: Some(unlock),
        flags: CKF_OS_LOCKING_OK,
        pReserved: std::ptr::null_mut(),
    }
}

/// `C_Initialize`'s arguments for the operating system's locking alone.
pub(super) fn with_os_locking() -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: CKF_OS_LOCKING_OK,
        pReserved: std::ptr::null_mut(),
    }
}

#[cfg(test)]
thread_local! {
    /// Mutexes created on this thread so far, for the tests to see that a
    /// library uses them (it creates them on the calling thread).
    pub(super) static CREATED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

unsafe extern "C" fn create(out: *mut *mut c_void) -> CK_RV {
    if out.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    #[cfg(test)]
    CREATED.set(CREATED.get() + 1);
    let mutex = Box::into_raw(Box::new(RawMutex::INIT));
    // SAFETY: the library passes a place for the new mutex's pointer.
    unsafe { *out = mutex.cast() };
    CKR_OK
}

unsafe extern "C" fn destroy(mutex: *mut c_void) -> CK_RV {
    if mutex.is_null() {
        return CKR_MUTEX_BAD;
    }
    // SAFETY: `mutex` came from `create`, and the library destroys it once.
    drop(unsafe { Box::from_raw(mutex.cast::<RawMutex>()) });
    CKR_OK
}

unsafe extern "C" fn lock(mutex: *mut c_void) -> CK_RV {
    // SAFETY: `mutex` came from `create` and is not destroyed yet.
    match unsafe { mutex.cast::<RawMutex>().as_ref() } {
        Some(mutex) => {
            mutex.lock();
            CKR_OK
        }
        None => CKR_MUTEX_BAD,
    }
}

unsafe extern "C" fn unlock(mutex: *mut c_void) -> CK_RV {
    // SAFETY: `mutex` came from `create` and is not destroyed yet.
    match unsafe { mutex.cast::<RawMutex>().as_ref() } {
        Some(mutex) if mutex.is_locked() => {
            // SAFETY: it is locked, by the caller: the library unlocks
            // only what it locked.
            unsafe { mutex.unlock() };
            CKR_OK
        }
        Some(_) => CKR_MUTEX_NOT_LOCKED,
        None => CKR_MUTEX_BAD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mutex_excludes_and_reports_misuse() {
        let args = with_trent_mutexes();
        let (create, destroy) = (args.CreateMutex.unwrap(), args.DestroyMutex.unwrap());
        let (lock, unlock) = (args.LockMutex.unwrap(), args.UnlockMutex.unwrap());
        let mut mutex = std::ptr::null_mut();
        // SAFETY: the functions are called as a PKCS#11 library calls them.
        unsafe {
            assert_eq!(create(&mut mutex), CKR_OK);
            assert_eq!(unlock(mutex), CKR_MUTEX_NOT_LOCKED);
            assert_eq!(lock(mutex), CKR_OK);
            assert!((*mutex.cast::<RawMutex>()).is_locked());
            assert!(!(*mutex.cast::<RawMutex>()).try_lock());
            assert_eq!(unlock(mutex), CKR_OK);
            assert_eq!(lock(std::ptr::null_mut()), CKR_MUTEX_BAD);
            assert_eq!(create(std::ptr::null_mut()), CKR_ARGUMENTS_BAD);
            assert_eq!(destroy(mutex), CKR_OK);
        }
    }

    #[test]
    fn threads_take_turns() {
        let args = with_trent_mutexes();
        let mut mutex = std::ptr::null_mut();
        // SAFETY: as a library would.
        unsafe { assert_eq!(args.CreateMutex.unwrap()(&mut mutex), CKR_OK) };
        let shared = mutex as usize;
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mutex = shared as *mut c_void;
                    for _ in 0..10_000 {
                        // SAFETY: as a library would; a non-atomic
                        // read-modify-write under the lock.
                        unsafe {
                            assert_eq!(lock(mutex), CKR_OK);
                            let n = counter.load(std::sync::atomic::Ordering::Relaxed);
                            counter.store(n + 1, std::sync::atomic::Ordering::Relaxed);
                            assert_eq!(unlock(mutex), CKR_OK);
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 40_000);
        // SAFETY: every thread is done with it.
        unsafe { assert_eq!(args.DestroyMutex.unwrap()(mutex), CKR_OK) };
    }
}
