#!/bin/sh
# Re-create tokens A and B under ./tokens, build and run the experiment
# (docs/adr/0016-cluster-enrolment.md). Output also in out.txt.
set -e
D="$(cd "$(dirname "$0")" && pwd)"
cd "$D"
./setup.sh >/dev/null
export SOFTHSM2_CONF="$D/softhsm2.conf"
cargo build --offline -q -j 2
./target/debug/trusted-exp main 2>&1 | tee out.txt
