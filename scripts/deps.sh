# shellcheck shell=bash
# Debian/Ubuntu packages Lotse needs, by purpose. Sourced by scripts/*.sh
# and .ci/run; the package lists are the ones proved in a clean Debian 12
# chroot (see ../shared/MACHINE-NOTES.md).
#
#   lotse_need build run test web   # install what is missing (root) or name it

# libpipewire-0.3-dev, libspa-0.2-dev and clang (bindgen): the Wayland backend's PipeWire frames.
LOTSE_PKGS_build="gcc libc6-dev pkg-config libasound2-dev libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev libpipewire-0.3-dev libspa-0.2-dev clang"
# What the client and console need to open a window (under Xvfb or a real X server).
LOTSE_PKGS_run="libgl1 libglx-mesa0 libgl1-mesa-dri libx11-6 libx11-xcb1 libxrandr2 libxcursor1 libxi6 libxkbcommon-x11-0"
# End-to-end tests: a virtual X server, window manager, compositor, X tools (x11-utils: xprop,
# xwininfo; x11-xserver-utils: xrandr), xdg-utils (xdg-open, xdg-mime: the installed client's
# lotse:// links), python3 for the foreign client, a D-Bus session with the AT-SPI bus and
# pyatspi for the accessibility walk (tests/a11y/). tests/tests/tidy.rs checks that this covers
# every program the tests and scripts start.
LOTSE_PKGS_test="xkb-data xvfb openbox xcompmgr xdotool x11-utils x11-xkb-utils x11-xserver-utils xdg-utils xterm python3 python3-xlib imagemagick fonts-dejavu-core dbus-daemon dbus-bin at-spi2-core python3-pyatspi"
# The Windows build and its tests (scripts/windows.sh): the mingw-w64 linker and C
# compiler (ring's C code), Wine to run the .exe files.
LOTSE_PKGS_windows="gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine wine64"
# Browser tests of the web chat (Debian's Chromium; nothing downloads its own browser).
LOTSE_PKGS_web="chromium chromium-driver"
# Headless Wayland test bed (scripts/wayland.sh, ../shared/platforms/WAYLAND.md): sway with
# the xdg-desktop-portal-wlr portal on the host (grim grabs the screen, swaymsg queries windows,
# foot is the test app), the session plumbing (dbus-run-session, pipewire, wireplumber,
# xdg-desktop-portal), python3-dbus/python3-gi for the portal test tools, mmdebstrap for the
# GNOME chroot, and util-linux/mount/passwd/coreutils for runuser, mount, useradd and chroot.
LOTSE_PKGS_wayland="sway foot grim pipewire pipewire-bin wireplumber xdg-desktop-portal xdg-desktop-portal-wlr dbus dbus-bin dbus-daemon libglib2.0-bin python3 python3-dbus python3-gi fonts-dejavu-core xkb-data mmdebstrap util-linux mount passwd coreutils procps xz-utils"
# Building the patched xdg-desktop-portal-wlr 0.7.0 (scripts/wayland.sh setup). libsystemd-dev
# and libgbm-dev would upgrade systemd and mesa on the host: setup unpacks those two with
# dpkg-deb -x into its cache instead of installing them (LOTSE_DEBS_wayland_unpacked).
LOTSE_PKGS_wayland_build="apt dpkg tar findutils gcc libc6-dev pkg-config meson ninja-build libgbm1 libsystemd0 libpipewire-0.3-dev libwayland-dev wayland-protocols libinih-dev libdrm-dev"
LOTSE_DEBS_wayland_unpacked="libsystemd-dev libgbm-dev"
# The GNOME 50 test bed: a Debian forky chroot made by mmdebstrap (--variant=apt, no
# recommends); not installed on the host. gnome-shell (headless, virtual monitor; it applies the
# keyboard layout from gsettings, bare mutter stays "us"), mutter, the GNOME portal,
# PipeWire, GStreamer for a reference grab, python3-dbus/gi for the dialog tool, foot as the test
# app, and the run-time libraries of our client binary (built on Debian 12, linked dynamically).
LOTSE_PKGS_wayland_gnome_chroot="gnome-shell mutter xdg-desktop-portal xdg-desktop-portal-gnome pipewire wireplumber dbus dbus-bin dbus-daemon libglib2.0-bin gsettings-desktop-schemas gstreamer1.0-pipewire gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3 python3-dbus python3-gi gir1.2-glib-2.0 foot fonts-dejavu-core xkb-data libasound2t64 libxcb1 libxcb-shm0 libxcb-randr0 libgl1 libegl1 libegl-mesa0 libgl1-mesa-dri libwayland-client0 libwayland-egl1 libwayland-cursor0 libxkbcommon0 libxkbcommon-x11-0 libx11-6 libx11-xcb1 libxrandr2 libxcursor1 libxi6 libpipewire-0.3-0t64"

# The Debian archive URI this machine's apt uses (deb822 `URIs:` or a one-line
# `deb URI suite ...`), for the private apt configurations of scripts/windows.sh and
# scripts/wayland.sh.
lotse_archive_uri() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p; s/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\)[[:space:]].*/\2/p' "$f" |
            grep -v -- '-security' | grep -i debian | head -n1)
        if [ -n "$uri" ]; then
            echo "$uri"
            return 0
        fi
    done
    echo "no Debian archive found in /etc/apt/sources.list*" >&2
    return 1
}

lotse_missing() {
    local pkg missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    echo "${missing[*]}"
}

lotse_need() {
    local group var wanted=()
    for group in "$@"; do
        var="LOTSE_PKGS_$group"
        # shellcheck disable=SC2206
        wanted+=(${!var})
    done
    if ! command -v dpkg-query >/dev/null; then
        echo "note: not a Debian-like system; make sure these (or your system's equivalents) are installed: ${wanted[*]}" >&2
        return 0
    fi
    local missing
    missing=$(lotse_missing "${wanted[@]}")
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "Missing Debian packages. Install them with:" >&2
        echo "  sudo apt-get install --no-install-recommends $missing" >&2
        return 1
    fi
    echo "Installing missing Debian packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
}
