#!/usr/bin/env bash
# Headless Wayland test bed (../shared/platforms/WAYLAND.md): sway on this Debian 12 host and
# GNOME 50 in a Debian forky chroot (`gnome`: gnome-shell, German keyboard; `mutter`: bare
# mutter, US keyboard, lighter), each in its own D-Bus session with PipeWire, WirePlumber and
# xdg-desktop-portal, run by an unprivileged user. Details: scripts/wayland/README.md.
#
#   ./scripts/wayland.sh setup                     # packages, user, patched portal, chroot (cached)
#   ./scripts/wayland.sh start gnome|mutter|sway NAME  # start a session; returns once READY
#   ./scripts/wayland.sh exec NAME -- CMD ARGS...  # run CMD in the session as the user
#   ./scripts/wayland.sh stop NAME                 # end every process (and mount) of the session
#   ./scripts/wayland.sh status                    # list sessions
#   ./scripts/wayland.sh e2e                       # the client end to end in GNOME and sway
#
# A session NAME lives in /tmp/lotse-wl/NAME (shared with the chroot: the chroot's /tmp is the
# host's /tmp): `env` (KEY=VALUE lines, no quoting: WAYLAND_DISPLAY, XDG_RUNTIME_DIR,
# DBUS_SESSION_BUS_ADDRESS, XDG_CURRENT_DESKTOP, XDG_SESSION_TYPE, ...), `log` (everything the
# session printed), `bin/` (the tools of scripts/wayland/, on PATH in `exec`), `run/` (the
# XDG_RUNTIME_DIR), `home/`, `config/`, `data/` (HOME, XDG_CONFIG_HOME, XDG_DATA_HOME: the
# portal permission store lives under data/ for the life of the session).
# Tools for `exec` (see scripts/wayland/README.md): grab, answer-dialog (GNOME), typed-app,
# portal-test.py, mutter.py (GNOME).
#
# Cache: $LOTSE_CACHE (default ~/.cache/lotse)/wayland: the patched xdg-desktop-portal-wlr
# binary and the GNOME chroot (a directory, ~1.4 GB).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/deps.sh
. "$here/deps.sh"

cache="${LOTSE_CACHE:-$HOME/.cache/lotse}/wayland"
WL_USER="${LOTSE_WL_USER:-lotse-wl}"
STATE_ROOT=/tmp/lotse-wl
SUITE=forky
XDPW_VERSION=0.7.0-1
chroot_dir="$cache/$SUITE-gnome"
xdpw_bin="$cache/xdpw-$XDPW_VERSION/xdg-desktop-portal-wlr"
READY_TIMEOUT="${LOTSE_WL_READY_TIMEOUT:-60}"

die() {
    echo "wayland.sh: $*" >&2
    exit 1
}

need_root() {
    [ "$(id -u)" -eq 0 ] || die "run as root (it creates a user, mounts and chroots)"
}

# apt-get with a private configuration (deb-src of bookworm) under $cache/apt.
private_apt() {
    "$@" -q \
        -o Dir::Etc::SourceList="$cache/apt/sources.list" \
        -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::Etc::Preferences=/dev/null \
        -o Dir::Etc::PreferencesParts=/dev/null \
        -o Dir::State::Lists="$cache/apt/lists" \
        -o Dir::State::Status="$cache/apt/status" \
        -o Dir::Cache="$cache/apt/cache" \
        -o Acquire::Languages=none \
        -o APT::Sandbox::User=root
}

setup_user() {
    if ! id -u "$WL_USER" >/dev/null 2>&1; then
        echo "==> user $WL_USER"
        useradd --create-home --shell /bin/sh "$WL_USER"
    fi
}

# xdg-desktop-portal-wlr 0.7.0 from Debian's source with one check relaxed: wlroots 0.15's
# headless pixman backend offers screencopy v3 with shm buffers only, and 0.7.0 refuses to
# start a cast without a dmabuf format (response 2, "unable to receive a valid format from
# wlr_screencopy"). A shm format is enough: build_formats() already falls back to shm only.
build_xdpw() {
    if [ -x "$xdpw_bin" ]; then
        return 0
    fi
    echo "==> patched xdg-desktop-portal-wlr $XDPW_VERSION"
    local uri work sysroot lib=/usr/lib/x86_64-linux-gnu
    uri=$(lotse_archive_uri)
    work="$cache/xdpw-build"
    sysroot="$work/sysroot"
    rm -rf "$work"
    mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$work" "$sysroot"
    touch "$cache/apt/status"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm main" \
        >"$cache/apt/sources.list"
    private_apt apt-get update >/dev/null
    # apt checks the files against the signed index; dpkg-source is not needed for a 3.0 (quilt)
    # package without patches.
    (cd "$work" && private_apt apt-get source --download-only "xdg-desktop-portal-wlr=$XDPW_VERSION" >/dev/null)
    if tar -tf "$work"/xdg-desktop-portal-wlr_*.debian.tar.xz | grep -q '^debian/patches/.'; then
        die "xdg-desktop-portal-wlr $XDPW_VERSION carries Debian patches now; apply them first"
    fi
    tar -xf "$work"/xdg-desktop-portal-wlr_*.orig.tar.xz -C "$work"
    # libsystemd-dev and libgbm-dev would upgrade systemd and mesa: unpack, don't install.
    # shellcheck disable=SC2086
    (cd "$work" && { apt-get -q -o APT::Sandbox::User=root download $LOTSE_DEBS_wayland_unpacked >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get -q -o APT::Sandbox::User=root download $LOTSE_DEBS_wayland_unpacked >/dev/null; }; })
    local deb
    for deb in "$work"/*.deb; do
        dpkg-deb -x "$deb" "$sysroot"
    done
    sed -i "s|=/usr|=$sysroot/usr|" "$sysroot$lib"/pkgconfig/*.pc
    ln -sf "$lib/libgbm.so.1" "$sysroot$lib/libgbm.so"
    ln -sf "$lib/libsystemd.so.0" "$sysroot$lib/libsystemd.so"
    local src
    src=$(echo "$work"/xdg-desktop-portal-wlr-*/)
    python3 - "$src/src/screencast/screencast.c" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = """	if (cast->screencopy_frame_info[WL_SHM].format == DRM_FORMAT_INVALID ||
			(cast->ctx->state->screencast_version >= 3 &&
			 cast->screencopy_frame_info[DMABUF].format == DRM_FORMAT_INVALID)) {"""
new = """	if (cast->screencopy_frame_info[WL_SHM].format == DRM_FORMAT_INVALID) {"""
if old not in s:
    sys.exit("patch target not found in " + p)
open(p, "w").write(s.replace(old, new, 1))
PY
    PKG_CONFIG_PATH="$sysroot$lib/pkgconfig" meson setup "$work/build" "$src" \
        -Dsd-bus-provider=libsystemd -Dsystemd=disabled -Dman-pages=disabled -Dwerror=false \
        >"$work/meson.log" 2>&1 || { cat "$work/meson.log" >&2; die "meson setup failed"; }
    ninja -C "$work/build" >"$work/ninja.log" 2>&1 || { cat "$work/ninja.log" >&2; die "ninja failed"; }
    # `meson install` drops the build rpath into the unpacked sysroot.
    meson install -C "$work/build" --destdir "$work/dest" >"$work/install.log" 2>&1 ||
        { cat "$work/install.log" >&2; die "meson install failed"; }
    mkdir -p "$(dirname "$xdpw_bin")"
    install -m 0755 "$work/dest/usr/local/libexec/xdg-desktop-portal-wlr" "$xdpw_bin.tmp"
    mv "$xdpw_bin.tmp" "$xdpw_bin"
    rm -rf "$work"
    echo "    $xdpw_bin"
}

# What the chroot holds; a change of the package list makes setup build it anew.
chroot_stamp() {
    echo "$SUITE $LOTSE_PKGS_wayland_gnome_chroot" | sha256sum | cut -c1-16
}

build_chroot() {
    local stamp
    stamp=$(chroot_stamp)
    if [ -f "$chroot_dir/.lotse-stamp" ] && [ "$(cat "$chroot_dir/.lotse-stamp")" = "$stamp" ]; then
        return 0
    fi
    local uri started=$SECONDS
    uri=$(lotse_archive_uri)
    echo "==> GNOME chroot ($SUITE, mmdebstrap --variant=apt, no recommends) in $chroot_dir"
    rm -rf "$chroot_dir.tmp"
    # shellcheck disable=SC2086
    mmdebstrap --variant=apt --quiet \
        --aptopt='APT::Install-Recommends "false"' \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --include="$(echo $LOTSE_PKGS_wayland_gnome_chroot | tr ' ' ',')" \
        "$SUITE" "$chroot_dir.tmp" "$uri"
    echo "$stamp" >"$chroot_dir.tmp/.lotse-stamp"
    rm -rf "$chroot_dir"
    mv "$chroot_dir.tmp" "$chroot_dir"
    echo "    done in $((SECONDS - started)) s"
}

# The user must exist with the same ids inside the chroot.
chroot_user() {
    local uid gid
    uid=$(id -u "$WL_USER")
    gid=$(id -g "$WL_USER")
    if ! grep -q "^$WL_USER:x:$uid:$gid:" "$chroot_dir/etc/passwd"; then
        sed -i "/^$WL_USER:/d" "$chroot_dir/etc/passwd" "$chroot_dir/etc/group"
        echo "$WL_USER:x:$uid:$gid::/tmp:/bin/sh" >>"$chroot_dir/etc/passwd"
        echo "$WL_USER:x:$gid:" >>"$chroot_dir/etc/group"
    fi
}

cmd_setup() {
    need_root
    local started=$SECONDS
    lotse_need wayland wayland_build
    setup_user
    build_xdpw
    build_chroot
    chroot_user
    echo "==> Wayland test bed ready ($((SECONDS - started)) s): $cache"
}

valid_name() {
    [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$ ]] || die "bad session name '$1' (letters, digits, _.-)"
}

# Pids of every process of session $1: each one inherits LOTSE_WL_SESSION=$1.
session_pids() {
    local name=$1 p
    for p in /proc/[0-9]*; do
        if grep -qzx "LOTSE_WL_SESSION=$name" "$p/environ" 2>/dev/null; then
            echo "${p#/proc/}"
        fi
    done
}

cmd_stop() {
    need_root
    local name=${1:?usage: stop NAME}
    valid_name "$name"
    local dir="$STATE_ROOT/$name" pids
    pids=$(session_pids "$name")
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        for _ in $(seq 50); do
            pids=$(session_pids "$name")
            [ -z "$pids" ] && break
            sleep 0.1
        done
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
    fi
    # GNOME's mounts live in the session's own mount namespace: they went with its last process.
    rm -rf "$dir"
}

# The session bus: Debian's session.conf, but the bus socket in the runtime directory and no
# D-Bus activation of xdg-desktop-portal and of its GNOME/wlr backends. Else the first client
# that asks for the portal (gnome-shell's notification service, GTK's settings lookup) starts a
# copy before the compositor's environment is in place; that copy lacks ScreenCast and
# RemoteDesktop (seen with gnome-shell 50). session.sh starts them itself, in order.
session_bus_config() {
    local kind=$1 dir=$2 root=/ f
    [ "$kind" = sway ] || root=$chroot_dir
    mkdir -p "$dir/dbus/services"
    for f in "$root"/usr/share/dbus-1/services/*.service; do
        case ${f##*/} in
            org.freedesktop.portal.Desktop.service | org.freedesktop.impl.portal.desktop.gnome.service | \
                org.freedesktop.impl.portal.desktop.wlr.service) ;;
            *) cp "$f" "$dir/dbus/services/" ;;
        esac
    done
    cat >"$dir/dbus/session.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir=$dir/run</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$dir/dbus/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="service_start_timeout">120000</limit>
</busconfig>
CONF
}

cmd_start() {
    need_root
    start_once "$@"
}

start_once() {
    local kind=${1:?usage: start sway|gnome NAME} name=${2:?usage: start sway|gnome NAME}
    valid_name "$name"
    case $kind in
        sway) [ -x "$xdpw_bin" ] || die "run '$0 setup' first" ;;
        gnome | mutter) [ -f "$chroot_dir/.lotse-stamp" ] || die "run '$0 setup' first" ;;
        *) die "unknown kind '$kind' (sway, gnome or mutter)" ;;
    esac
    id -u "$WL_USER" >/dev/null 2>&1 || die "run '$0 setup' first (no user $WL_USER)"
    local dir="$STATE_ROOT/$name"
    if [ -n "$(session_pids "$name")" ]; then
        die "session $name is running; stop it first"
    fi
    rm -rf "$dir"
    mkdir -p "$STATE_ROOT" "$dir"
    chmod 0755 "$STATE_ROOT" "$dir"
    mkdir -p "$dir/run" "$dir/home" "$dir/config" "$dir/data" "$dir/bin"
    find "$here/wayland" -maxdepth 1 -type f ! -name '*.md' -exec cp {} "$dir/bin/" \;
    chmod 0755 "$dir/bin"/*
    chown -R "$WL_USER:" "$dir"
    chmod 0700 "$dir/run"
    local uid gid
    uid=$(id -u "$WL_USER")
    gid=$(id -g "$WL_USER")
    # The session's environment (see session.sh, which adds the rest to $dir/env).
    local -a envv=(
        "PATH=$dir/bin:/usr/local/bin:/usr/bin:/bin"
        "HOME=$dir/home" "USER=$WL_USER" "LOGNAME=$WL_USER" "LANG=C.UTF-8"
        "XDG_RUNTIME_DIR=$dir/run" "XDG_CONFIG_HOME=$dir/config" "XDG_DATA_HOME=$dir/data"
        "XDG_SESSION_TYPE=wayland" "LOTSE_WL_SESSION=$name" "LOTSE_WL_KIND=$kind"
        "LOTSE_WL_DIR=$dir"
    )
    session_bus_config "$kind" "$dir"
    local started=$SECONDS
    if [ "$kind" = sway ]; then
        # The cache may be under /root (mode 0700): the user runs a copy.
        cp "$xdpw_bin" "$dir/xdg-desktop-portal-wlr"
        envv+=("LOTSE_WL_XDPW=$dir/xdg-desktop-portal-wlr")
        setsid runuser -u "$WL_USER" -- env -i "${envv[@]}" \
            dbus-run-session --config-file="$dir/dbus/session.conf" -- "$dir/bin/session.sh" </dev/null >"$dir/log" 2>&1 &
    else
        chroot_user
        # A private mount namespace: the bind mounts vanish with the session's last process,
        # also after a crash; `exec` enters it with nsenter.
        # shellcheck disable=SC2016 # expanded by that shell
        setsid unshare --mount --propagation private -- /bin/sh -c '
            set -e
            root=$1 ids=$2 groups=$3
            shift 3
            for d in proc sys dev tmp; do mount --rbind "/$d" "$root/$d"; done
            exec chroot --userspec="$ids" --groups="$groups" "$root" "$@"
        ' sh "$chroot_dir" "$uid:$gid" "$gid" /usr/bin/env -i "${envv[@]}" \
            /usr/bin/dbus-run-session --config-file="$dir/dbus/session.conf" -- "$dir/bin/session.sh" </dev/null >"$dir/log" 2>&1 &
    fi
    local launcher=$!
    # session.sh writes $dir/ready (or $dir/failed) once everything is up.
    local deadline=$((SECONDS + READY_TIMEOUT))
    while [ ! -e "$dir/ready" ]; do
        if [ -e "$dir/failed" ] || ! kill -0 "$launcher" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            echo "wayland.sh: session $name ($kind) did not become ready; its log:" >&2
            local f
            for f in "$dir/log" "$dir"/*.log; do
                [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
            done
            cmd_stop "$name"
            exit 1
        fi
        sleep 0.05
    done
    echo "session $name ($kind) ready in $((SECONDS - started)) s: $dir/env"
}

cmd_exec() {
    need_root
    local name=${1:?usage: exec NAME -- CMD ARGS...}
    shift
    [ "${1:-}" = -- ] && shift
    [ $# -gt 0 ] || die "usage: exec NAME -- CMD ARGS..."
    valid_name "$name"
    local dir="$STATE_ROOT/$name"
    [ -f "$dir/ready" ] || die "no ready session $name"
    local -a envv
    mapfile -t envv <"$dir/env"
    local kind leader
    kind=$(sed -n 's/^LOTSE_WL_KIND=//p' "$dir/env")
    if [ "$kind" = sway ]; then
        exec runuser -u "$WL_USER" -- env -i "${envv[@]}" "$@"
    fi
    leader=$(cat "$dir/leader")
    # The caller's directory does not exist inside the chroot: commands start in /tmp.
    exec nsenter --target "$leader" --mount --root \
        --setuid "$(id -u "$WL_USER")" --setgid "$(id -g "$WL_USER")" -- /usr/bin/env -i -C /tmp "${envv[@]}" "$@"
}

cmd_status() {
    local d
    for d in "$STATE_ROOT"/*/; do
        [ -f "$d/env" ] || continue
        echo "$(basename "$d") $(sed -n 's/^LOTSE_WL_KIND=//p' "$d/env") $([ -e "$d/ready" ] && echo ready || echo starting)"
    done
}

# The client end to end in these sessions (tests/tests/wayland_client.rs): the binaries with the
# same package set as scripts/test.sh, so none is rebuilt; the feature only adds the test target
# (and its input helper). nextest runs the sessions one at a time (.config/nextest.toml).
cmd_e2e() {
    need_root
    cd "$here/.."
    cargo build --locked -p lotse-relay -p lotse-client -p lotse-console
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --locked -p lotse-e2e --features wayland-e2e --test wayland_client
    else
        cargo test --locked -p lotse-e2e --features wayland-e2e --test wayland_client -- --test-threads=1
    fi
}

case "${1:-}" in
    setup) cmd_setup ;;
    e2e) cmd_e2e ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    exec) shift; cmd_exec "$@" ;;
    status) cmd_status ;;
    *) sed -n '2,23p' "$0" >&2; exit 2 ;;
esac
