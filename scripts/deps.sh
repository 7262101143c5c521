# shellcheck shell=bash
# Debian/Ubuntu packages Lotse needs, by purpose. Sourced by scripts/*.sh
# and .ci/run; the package lists are the ones proved in a clean Debian 12
# chroot (see ../shared/MACHINE-NOTES.md).
#
#   lotse_need build run test web   # install what is missing (root) or name it

LOTSE_PKGS_build="gcc libc6-dev pkg-config libasound2-dev libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev"
# What the client and console need to open a window (under Xvfb or a real X server).
LOTSE_PKGS_run="libgl1 libglx-mesa0 libgl1-mesa-dri libx11-6 libx11-xcb1 libxrandr2 libxcursor1 libxi6 libxkbcommon-x11-0"
# End-to-end tests: a virtual X server, window manager, compositor, X tools (x11-utils: xprop,
# xwininfo; x11-xserver-utils: xrandr), xdg-utils (xdg-open, xdg-mime: the installed client's
# lotse:// links), python3 for the foreign client. tests/tests/tidy.rs checks that this covers
# every program the tests and scripts start.
LOTSE_PKGS_test="xvfb openbox xcompmgr xdotool x11-utils x11-xkb-utils x11-xserver-utils xdg-utils xterm python3 python3-xlib imagemagick fonts-dejavu-core"
# The Windows build and its tests (scripts/windows.sh): the mingw-w64 linker and C
# compiler (ring's C code), Wine to run the .exe files.
LOTSE_PKGS_windows="gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine wine64"
# Browser tests of the web chat (Debian's Chromium; nothing downloads its own browser).
LOTSE_PKGS_web="chromium chromium-driver"

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
