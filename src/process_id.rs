//! The process id, cached: what `getpid` answers in the `trent` binary.
//!
//! SoftHSM 2.6.1 calls `getpid` on every PKCS#11 call to notice that it
//! runs in a forked child, and glibc has made that a system call every time
//! since 2.25: about 1.5 % of the server's CPU on Encrypt. The binary
//! defines `getpid` itself (exported to the libraries it loads, see
//! `build.rs` and ADR 0023) and answers from [`cached`], which reads the id
//! once and again after every `fork`, as glibc did before 2.25.

use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

/// The id read last, or 0 when it must be read again.
static PID: AtomicI32 = AtomicI32::new(0);

/// Registers the reset once per process.
static AT_FORK: Once = Once::new();

/// The calling process's id: read by system call the first time, and the
/// first time after each `fork` (whose child handler forgets it).
pub fn cached() -> libc::pid_t {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler that only stores into an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(forget)) };
    });
    // SAFETY: getpid takes no arguments and cannot fail.
    let pid = unsafe { libc::syscall(libc::SYS_getpid) } as libc::pid_t;
    PID.store(pid, Ordering::Relaxed);
    pid
}

/// In a forked child: the cached id is the parent's.
extern "C" fn forget() {
    PID.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_pid() -> libc::pid_t {
        // SAFETY: as in `cached`.
        unsafe { libc::syscall(libc::SYS_getpid) as libc::pid_t }
    }

    #[test]
    fn answers_the_kernels_id() {
        assert_eq!(cached(), kernel_pid());
        assert_eq!(cached(), std::process::id() as libc::pid_t);
    }

    #[test]
    fn a_forked_child_gets_its_own_id() {
        let parent = cached();
        // SAFETY: the child only makes system calls and exits.
        match unsafe { libc::fork() } {
            0 => {
                let ok = cached() == kernel_pid() && cached() != parent;
                // SAFETY: leaves the child without running the test harness's exit path.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            child => {
                assert!(child > 0, "fork failed");
                let mut status = 0;
                // SAFETY: waits for the child just forked.
                assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
                assert!(libc::WIFEXITED(status));
                assert_eq!(
                    libc::WEXITSTATUS(status),
                    0,
                    "the child saw its parent's id"
                );
                assert_eq!(cached(), parent);
            }
        }
    }
}
