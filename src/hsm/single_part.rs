//! Single-part encryption and decryption in one call each.
//!
//! cryptoki's `Session::encrypt` and `Session::decrypt` ask the library for
//! the output's length with a first `C_Encrypt` (`C_Decrypt`) and make the
//! operation with a second, into a new vector. Trent knows the length an
//! AES-GCM answer needs (the input's, plus the tag when encrypting), so it
//! makes one call into a buffer of that size: a trip through the library's
//! session lookup and locks fewer, and no copy of the answer.

use cryptoki::context::Function;
use cryptoki::error::{Error, Rv, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use cryptoki_sys::{CK_FUNCTION_LIST, CK_MECHANISM, CK_ULONG};

/// Which single-part operation to make.
#[derive(Clone, Copy, Debug)]
pub(super) enum Operation {
    /// `C_EncryptInit` and `C_Encrypt`.
    Encrypt,
    /// `C_DecryptInit` and `C_Decrypt`.
    Decrypt,
}

/// Makes `operation` on `input` under `key` with `mechanism` on `session`,
/// appending the answer to `out`, which is first given room for
/// `expected` more bytes. Should the library want more room (it says how
/// much, and the operation stays active), the call is made again with it.
pub(super) fn into(
    operation: Operation,
    functions: &CK_FUNCTION_LIST,
    session: &Session,
    (mechanism, key): (&Mechanism<'_>, ObjectHandle),
    input: &[u8],
    expected: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let calls = match operation {
        Operation::Encrypt => (
            functions.C_EncryptInit,
            Function::EncryptInit,
            functions.C_Encrypt,
            Function::Encrypt,
        ),
        Operation::Decrypt => (
            functions.C_DecryptInit,
            Function::DecryptInit,
            functions.C_Decrypt,
            Function::Decrypt,
        ),
    };
    let (Some(init), init_name, Some(call), call_name) = calls else {
        return Err(Error::NullFunctionPointer);
    };
    let mut mechanism: CK_MECHANISM = mechanism.into();
    // SAFETY: the session and key handles are the library's, and the
    // mechanism (with the parameters it points to) outlives the call.
    let rv = unsafe { init(session.handle(), &mut mechanism, key.handle()) };
    Rv::from(rv).into_result(init_name)?;
    let input_len = CK_ULONG::try_from(input.len())?;
    let mut room = expected;
    loop {
        out.reserve(room);
        let mut written = CK_ULONG::try_from(room)?;
        // SAFETY: the library reads `input_len` bytes of `input` and
        // writes at most `written` bytes (`room`, reserved just above) into
        // `out`'s spare capacity, then says in `written` how many it wrote.
        let rv = unsafe {
            call(
                session.handle(),
                input.as_ptr().cast_mut(),
                input_len,
                out.spare_capacity_mut().as_mut_ptr().cast(),
                &mut written,
            )
        };
        match Rv::from(rv) {
            Rv::Error(RvError::BufferTooSmall) if usize::try_from(written)? > room => {
                room = usize::try_from(written)?;
            }
            rv => {
                rv.into_result(call_name)?;
                let written = usize::try_from(written)?;
                assert!(
                    written <= room,
                    "the library wrote past the room it was given"
                );
                // SAFETY: the library initialised `written` bytes of the
                // spare capacity, which holds `room` bytes.
                unsafe { out.set_len(out.len() + written) };
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::hsm::library::Library;
    use crate::hsm::template::{Purpose, backing_key_template};
    use crate::hsm::{IV_LEN, SecretKind, TAG_LEN};
    use cryptoki::mechanism::aead::GcmParams;
    use cryptoki::object::Attribute;

    fn gcm(iv: &mut [u8; IV_LEN]) -> Mechanism<'_> {
        let params = GcmParams::new(iv, b"aad", ((TAG_LEN * 8) as u64).into()).unwrap();
        Mechanism::AesGcm(params)
    }

    /// Run by the one unit test that initialises SoftHSM (a library is
    /// initialised once per process), on its logged-in session: an answer
    /// is appended whole, also when the room given was too little (the
    /// library asks for more and the call is made again), and a tag that
    /// does not verify is the library's refusal, with nothing appended.
    pub(in crate::hsm) fn check(library: &Library, session: &Session) {
        let mut template = backing_key_template(Purpose::Use, SecretKind::Aes256);
        template.insert(0, Attribute::ValueLen(32.into()));
        let key = session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .unwrap();
        let functions = library.functions();
        let plaintext = b"thirty-two bytes of plaintext!!!";
        for room in [plaintext.len() + TAG_LEN, 0] {
            let run = |operation, input: &[u8], out: &mut Vec<u8>| {
                let mut iv = [7; IV_LEN];
                into(
                    operation,
                    functions,
                    session,
                    (&gcm(&mut iv), key),
                    input,
                    room,
                    out,
                )
            };
            let mut sealed = b"header".to_vec();
            run(Operation::Encrypt, plaintext, &mut sealed).unwrap();
            assert_eq!(&sealed[..6], b"header");
            assert_eq!(sealed.len(), 6 + plaintext.len() + TAG_LEN);
            let reference = session.encrypt(&gcm(&mut [7; IV_LEN]), key, plaintext);
            assert_eq!(sealed[6..], reference.unwrap(), "room {room}");
            let mut opened = Vec::new();
            run(Operation::Decrypt, &sealed[6..], &mut opened).unwrap();
            assert_eq!(opened, plaintext, "room {room}");
            let mut forged = sealed[6..].to_vec();
            *forged.last_mut().unwrap() ^= 1;
            let mut refused = Vec::new();
            let answer = run(Operation::Decrypt, &forged, &mut refused);
            assert!(matches!(answer, Err(Error::Pkcs11(..))), "{answer:?}");
            assert!(refused.is_empty());
        }
    }
}
