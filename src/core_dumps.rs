//! Keeping the process's memory out of core dumps and away from debuggers
//! of the same user: it holds the PIN, the token's unwrapped keys (SoftHSM
//! runs in the process) and the plaintexts of requests in flight.

/// Marks the process not dumpable (`PR_SET_DUMPABLE` 0: no core dump, no
/// `ptrace` attach by an unprivileged process of the same user, `/proc/<pid>`
/// files owned by root) and sets its core-file size limit to 0, for a
/// core-dump handler that ignores the flag. Call it before any secret is
/// read. Errors are returned for the caller to report; they leave the
/// process as it was.
pub fn forbid() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_DUMPABLE takes one integer argument and
    // touches no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct we pass for the duration of the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// In a child (the test process keeps its flags): dumpable before,
    /// neither dumpable nor allowed a core file after.
    #[test]
    fn forbids_core_dumps_in_a_child() {
        // SAFETY: the child only makes system calls and exits.
        match unsafe { libc::fork() } {
            0 => {
                let dumpable = || unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
                let before = dumpable();
                let forbidden = super::forbid().is_ok();
                let mut limit = libc::rlimit {
                    rlim_cur: 1,
                    rlim_max: 1,
                };
                // SAFETY: getrlimit writes the struct we pass.
                unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) };
                let ok = before == 1
                    && forbidden
                    && dumpable() == 0
                    && limit.rlim_cur == 0
                    && limit.rlim_max == 0;
                // SAFETY: _exit ends the child without running the parent's handlers.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            child if child > 0 => {
                let mut status = 0;
                // SAFETY: waits for the child just forked.
                unsafe { libc::waitpid(child, &mut status, 0) };
                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            }
            _ => panic!("fork failed: {}", std::io::Error::last_os_error()),
        }
    }
}
