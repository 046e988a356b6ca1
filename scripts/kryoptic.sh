#!/usr/bin/env bash
# Builds the PKCS#11 module of Kryoptic (a software token written in Rust,
# https://github.com/latchset/kryoptic) from its crates.io release, for the
# tests that run Trent on a second kind of token (tests/kryoptic.rs), and
# prints the path of the module (libkryoptic_pkcs11.so) on stdout.
#
# The module alone is cached in target/kryoptic/<version>/ (or $KRYOPTIC_CACHE_DIR/
# <version>/): when it is there already, nothing is built. A build takes about
# 1.5 minutes on 2 cores and needs Debian's clang, libclang-dev and libssl-dev
# (Kryoptic binds the system's OpenSSL 3). Build output goes to stderr.
#
# Usage: scripts/kryoptic.sh (from anywhere in the repository).

set -euo pipefail

VERSION=1.5.4
# sqlitedb: tokens kept in SQLite files; dynamic: link the system's OpenSSL;
# ecc_min, hash_all, rsa, aes: the mechanisms Trent needs (hsm/README.md).
# EdDSA would need OpenSSL 3.2, which Debian bookworm lacks.
FEATURES="kryoptic-lib/dynamic,kryoptic-lib/sqlitedb,kryoptic-lib/ecc_min,kryoptic-lib/hash_all,kryoptic-lib/rsa,kryoptic-lib/aes"

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${KRYOPTIC_CACHE_DIR:-$root/target/kryoptic}/$VERSION"
module="$cache/libkryoptic_pkcs11.so"
if [ -f "$module" ]; then
    echo "$module"
    exit 0
fi

# Fetch the crate through an empty crate that depends on it (its own
# workspace, so Cargo does not take it for part of Trent's).
fetch="$cache/fetch"
mkdir -p "$fetch/src"
cat >"$fetch/Cargo.toml" <<TOML
[package]
name = "kryoptic-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
kryoptic = { version = "=$VERSION", default-features = false }

[workspace]
TOML
: >"$fetch/src/lib.rs"
cargo fetch --manifest-path "$fetch/Cargo.toml" >&2
manifest="$(cargo metadata --format-version 1 --manifest-path "$fetch/Cargo.toml" |
    python3 -c 'import json, sys
meta = json.load(sys.stdin)
print(next(p["manifest_path"] for p in meta["packages"]
           if p["name"] == "kryoptic" and p["version"] == sys.argv[1]))' "$VERSION")"

# Build a copy of the crate's source (the registry's copy stays untouched),
# with the crate's own Cargo.lock.
src="$cache/src"
rm -rf "$src"
cp -r "$(dirname "$manifest")" "$src"
printf '\n[workspace]\n' >>"$src/Cargo.toml"
CARGO_TARGET_DIR="$cache/build" cargo build --release --locked \
    --manifest-path "$src/Cargo.toml" --no-default-features --features "$FEATURES" >&2
cp "$cache/build/release/libkryoptic_pkcs11.so" "$module.tmp"
mv "$module.tmp" "$module"
# Only the module is kept: the build tree and the source take hundreds of MB.
rm -rf "$cache/build" "$src" "$fetch"
echo "$module"
