#!/bin/sh
# Fresh SoftHSM config and two tokens (A = member, B = joining node) under ./tokens.
set -e
D="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$D/tokens"; mkdir -p "$D/tokens"
cat > "$D/softhsm2.conf" <<CONF
directories.tokendir = $D/tokens/
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
export SOFTHSM2_CONF="$D/softhsm2.conf"
softhsm2-util --init-token --free --label A --so-pin so-pin-A --pin user-pin-A >/dev/null
softhsm2-util --init-token --free --label B --so-pin so-pin-B --pin user-pin-B >/dev/null
softhsm2-util --show-slots | grep -E "Label|Slot "
