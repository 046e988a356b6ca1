#!/usr/bin/env bash
# Prints the dependency edges between Trent's top-level modules and between
# the files of the modules whose files must form no circle, then checks them:
# exits 1 if a module uses one of its own layer or above (see LAYERS), or if
# files of a checked module use each other in a circle.
#
# Edges are read from the source with grep: `crate::<module>` anywhere in a
# line that is not a comment (`use` lines and paths in code alike), `trent::`
# in src/main.rs, and `super::<file>` between sibling files. See
# docs/adr/0001-foundation-architecture.md ("Layers").
#
# Usage: scripts/layers.sh (from anywhere in the repository).

set -u
cd "$(dirname "$0")/../src"

# Layers, top first. A module may use only modules of layers below its own.
LAYERS=(
    "main"
    "server cluster backup"
    "provision fuzzing"
    "api"
    "audit kms"
    "auth"
    "authz"
    "hsm store"
    "clock config model dir_lock metrics"
)

# Edges forbidden although they point down: the dialects see the domain
# model through `kms`, never the store's SQL side.
SKIPPED=("api store")

# Modules whose files must not use each other in a circle (`mod.rs`, the
# module's face that declares and re-exports its files, is left out).
FILE_CHECKED=(hsm api/huawei)

rank() {
    local i
    for i in "${!LAYERS[@]}"; do
        if [[ " ${LAYERS[$i]} " == *" $1 "* ]]; then
            echo "$i"
            return
        fi
    done
    echo "unknown"
}

# Source lines of a file with comment lines left out.
code() {
    grep -v '^[[:space:]]*//' "$1" || true
}

# "from to" for every use of another top-level module.
module_edges() {
    local file from
    while IFS= read -r file; do
        from=${file%%/*}
        from=${from%.rs}
        {
            code "$file" | grep -o 'crate::[a-z_]*' | sed 's/^crate:://'
            if [[ $file == main.rs ]]; then
                code "$file" | grep -o 'trent::[a-z_]*' | sed 's/^trent:://'
            fi
        } | while IFS= read -r to; do
            if [[ $to != "$from" ]]; then echo "$from $to"; fi
        done
    done < <(find . -name '*.rs' -printf '%P\n' | sort)
}

# "from to" for every use of a sibling file within module directory $1,
# before the file's test module (where `super::` means the file itself).
file_edges() {
    local dir=$1 file from sibling
    local siblings
    siblings=$(find "$dir" -maxdepth 1 -name '*.rs' ! -name mod.rs -printf '%f\n' | sed 's/\.rs$//')
    local path=${dir//\//::}
    for file in $siblings; do
        sed '/^mod tests\b\|^    mod tests\b/,$d' "$dir/$file.rs" |
            grep -v '^[[:space:]]*//' |
            # Joins `use super::{ ... };` spread over several lines.
            tr '\n' ' ' | sed 's/;/;\n/g' |
            grep -o "super::{[^}]*}\|super::[a-z_]*\|crate::$path::[a-z_]*" |
            sed "s/^super::{//; s/}$//; s/^super:://; s/^crate::$path:://" |
            tr ',' '\n' | sed 's/^ *//; s/::.*//; s/ .*//' |
            while IFS= read -r sibling; do
                if [[ $sibling != "$file" ]] && grep -qx "$sibling" <<<"$siblings"; then
                    echo "$file $sibling"
                fi
            done
    done | sort -u
}

status=0

echo "== module edges (from -> to: uses), layers top first:"
for i in "${!LAYERS[@]}"; do
    echo "   $i: ${LAYERS[$i]}"
done
while read -r from to count; do
    rf=$(rank "$from")
    rt=$(rank "$to")
    if [[ $rf == unknown || $rt == unknown ]]; then
        verdict="FORBIDDEN (module not in LAYERS)"
        status=1
    elif [[ " ${SKIPPED[*]} " == *" $from $to "* ]]; then
        verdict="FORBIDDEN (skips a layer it must go through)"
        status=1
    elif ((rt > rf)); then
        verdict="ok"
    else
        verdict="FORBIDDEN (layer $rf uses layer $rt)"
        status=1
    fi
    printf '%-10s -> %-10s %4d  %s\n' "$from" "$to" "$count" "$verdict"
done < <(module_edges | sort | uniq -c | awk '{print $2, $3, $1}' |
    while read -r from to count; do echo "$(rank "$from") $from $to $count"; done |
    sort -k1,1n -k2,2 -k3,3 | cut -d' ' -f2-)

for dir in "${FILE_CHECKED[@]}"; do
    edges=$(file_edges "$dir")
    echo
    echo "== file edges in $dir (from -> to: uses):"
    if [[ -z $edges ]]; then
        echo "(none)"
        continue
    fi
    awk '{printf "%-10s -> %s\n", $1, $2}' <<<"$edges"
    if ! loop=$(tsort <<<"$edges" 2>&1 >/dev/null); then
        echo "FORBIDDEN: circle among the files of $dir:"
        grep -v 'input contains a loop' <<<"$loop" | sed 's/^tsort: /   /'
        status=1
    fi
done

echo
if ((status == 0)); then
    echo "layers: ok"
else
    echo "layers: forbidden edges found"
fi
exit "$status"
