//! Exports the `trent` binary's own `getpid` (src/main.rs), and the bench's
//! (examples/bench/main.rs), to the libraries they load at run time, so that
//! a PKCS#11 module's calls reach it instead of glibc's (ADR 0023). A
//! dynamic list, which GNU ld and LLD have long read, rather than
//! `--export-dynamic-symbol`, which GNU ld gained only in 2.35.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let list = out.join("exported-symbols");
    std::fs::write(&list, "{ getpid; };\n").expect("write the dynamic list");
    let export = format!("-Wl,--dynamic-list={}", list.display());
    println!("cargo:rustc-link-arg-bin=trent={export}");
    println!("cargo:rustc-link-arg-examples={export}");
    println!("cargo:rerun-if-changed=build.rs");
}
