//! Exports the `trent` binary's own `getpid` (src/main.rs), and the bench's
//! (examples/bench/main.rs), to the libraries they load at run time, so that
//! a PKCS#11 module's calls reach it instead of glibc's (ADR 0023).

fn main() {
    let export = "-Wl,--export-dynamic-symbol=getpid";
    println!("cargo:rustc-link-arg-bin=trent={export}");
    println!("cargo:rustc-link-arg-examples={export}");
}
