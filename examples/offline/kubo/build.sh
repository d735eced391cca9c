#!/bin/sh
# Host build of the kubo double's image inputs. Run from examples/offline: `sh kubo/build.sh`.
# 1. the static `ipfs` binary; 2. a static busybox (Debian's busybox-static) for /bin/sh.
set -eu
RUSTFLAGS="${RUSTFLAGS:--C target-feature=+crt-static}" \
    cargo build --release --target x86_64-unknown-linux-gnu -p kubo-standin --target-dir target
out=target/x86_64-unknown-linux-gnu/release/busybox
# ELF with no PT_INTERP program header (e_phoff at 32, e_phentsize at 54, e_phnum at 56).
is_static() {
    le() { od -An -tu"$3" -j"$2" -N"$3" "$1" | tr -d ' '; }
    [ "$(od -An -c -N4 "$1" | tr -d ' ')" = "177ELF" ] || return 1
    phoff=$(le "$1" 32 8); phsz=$(le "$1" 54 2); phnum=$(le "$1" 56 2); i=0
    while [ "$i" -lt "$phnum" ]; do
        [ "$(le "$1" $((phoff + i * phsz)) 4)" = 3 ] && return 1
        i=$((i + 1))
    done
    return 0
}
for bb in "${BUSYBOX:-}" /bin/busybox /usr/bin/busybox; do
    [ -n "$bb" ] && [ -x "$bb" ] || continue
    # Debian's dynamic `busybox` package also installs /bin/busybox; a FROM scratch image has no
    # loader, so only a binary without a program interpreter will do.
    if ! is_static "$bb"; then
        echo "kubo/build.sh: $bb is dynamically linked" >&2
        continue
    fi
    if ! cmp -s "$bb" "$out"; then
        cp "$bb" "$out.tmp" && chmod 755 "$out.tmp" && mv "$out.tmp" "$out"
    fi
    exit 0
done
# As root on Debian, fetch it (the demo stays one command on a fresh machine); otherwise say what to run.
if [ -z "${BUSYBOX:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "kubo/build.sh: no static busybox here; installing Debian's busybox-static (the double's /bin/sh)" >&2
    if { apt-get install -y -qq busybox-static >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq busybox-static >/dev/null 2>&1; }; } &&
        is_static /bin/busybox; then
        cp /bin/busybox "$out.tmp" && chmod 755 "$out.tmp" && mv "$out.tmp" "$out"
        exit 0
    fi
fi
echo "kubo/build.sh: no static busybox found: install Debian's busybox-static (apt-get install busybox-static)" >&2
exit 1
