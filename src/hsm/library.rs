//! One loaded instance of a PKCS#11 library: cryptoki's context for its
//! calls, and the library's own `C_Initialize`, which Trent calls itself so
//! as to hand it Trent's mutexes (`locking`; cryptoki passes none).

use super::{HsmError, locking};
use cryptoki::context::Function;
use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, Rv, RvError};
use cryptoki_sys::{CK_C_INITIALIZE_ARGS, CK_FUNCTION_LIST};
use std::path::Path;

/// A loaded PKCS#11 library instance (initialised or not).
pub(super) struct Library {
    ctx: Pkcs11,
    /// The library's function list: for `C_Initialize`, and for the calls
    /// cryptoki makes in two steps where Trent needs one (`single_part`).
    /// It comes from a second mapping of the library, never unmapped: the
    /// loader maps a path once per process, so the functions are the same
    /// instance's as `ctx`'s, and one built on OpenSSL (SoftHSM) leaves
    /// state in OpenSSL that OpenSSL's own clean-up at exit reaches into,
    /// which crashes once the library is unmapped.
    functions: &'static CK_FUNCTION_LIST,
}

impl Library {
    /// Loads the library at `path`, not initialised.
    pub(super) fn load(path: &Path) -> Result<Self, HsmError> {
        let ctx = Pkcs11::new(path)?;
        // SAFETY: maps the file cryptoki just loaded again, which only
        // takes another reference to that mapping.
        let exports = unsafe { cryptoki_sys::Pkcs11::new(path) }.map_err(Error::LibraryLoading)?;
        // Once per module and per spare copy (`spare`), so the leak is bounded.
        let exports: &'static cryptoki_sys::Pkcs11 = Box::leak(Box::new(exports));
        Ok(Self {
            ctx,
            functions: function_list(exports)?,
        })
    }

    /// The library's function list.
    pub(super) fn functions(&self) -> &'static CK_FUNCTION_LIST {
        self.functions
    }

    /// Cryptoki's context, for the calls.
    pub(super) fn ctx(&self) -> &Pkcs11 {
        &self.ctx
    }

    /// `C_Initialize` with Trent's mutexes, or with the operating system's
    /// locking when the library cannot use them (`CKR_CANT_LOCK`).
    pub(super) fn initialize(&self) -> Result<(), HsmError> {
        match self.call_initialize(locking::with_trent_mutexes()) {
            Err(Error::Pkcs11(RvError::CantLock, _)) => {
                tracing::info!(
                    "the PKCS#11 library cannot use Trent's mutexes: it locks its own way"
                );
                Ok(self.call_initialize(locking::with_os_locking())?)
            }
            other => Ok(other?),
        }
    }

    /// `C_Finalize`.
    pub(super) fn finalize(&self) -> Result<(), HsmError> {
        Ok(self.ctx.clone().finalize()?)
    }

    fn call_initialize(&self, mut args: CK_C_INITIALIZE_ARGS) -> Result<(), Error> {
        // Through the function list: not every library exports
        // `C_Initialize` by name (Kryoptic does not).
        let c_initialize = self
            .functions
            .C_Initialize
            .ok_or(Error::NullFunctionPointer)?;
        // SAFETY: `args` is a valid CK_C_INITIALIZE_ARGS whose functions
        // live as long as the process.
        let rv = unsafe { c_initialize((&raw mut args).cast()) };
        Rv::from(rv).into_result(Function::Initialize)
    }
}

/// The function list of a library mapped for good (`C_GetFunctionList`,
/// which a library answers before `C_Initialize`).
fn function_list(
    exports: &'static cryptoki_sys::Pkcs11,
) -> Result<&'static CK_FUNCTION_LIST, Error> {
    if exports.C_GetFunctionList.is_err() {
        return Err(Error::MissingSymbol("C_GetFunctionList"));
    }
    let mut list = std::ptr::null_mut();
    // SAFETY: the symbol exists (checked above, else this would panic),
    // and `list` is a place for the library's function list pointer.
    let rv = unsafe { exports.C_GetFunctionList(&mut list) };
    Rv::from(rv).into_result(Function::GetFunctionList)?;
    // SAFETY: on success the library points `list` at its function list,
    // which lives as long as the library is mapped, and `exports` keeps it
    // mapped for good.
    unsafe { list.as_ref() }.ok_or(Error::NullFunctionPointer)
}
