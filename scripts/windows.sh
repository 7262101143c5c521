#!/usr/bin/env bash
# The Windows build on this Debian 12 machine: cross-compiles to
# x86_64-pc-windows-gnu (rustup's stable rustc + Debian's `rust-src` +
# `-Zbuild-std` + Debian's mingw-w64) and runs the results under Wine.
#
#   ./scripts/windows.sh setup   # cross toolchain + Wine prefix (cached)
#   ./scripts/windows.sh test    # tests of the portable crates and the Windows
#                                # desktop backend under Wine
#   ./scripts/windows.sh build   # lotse.exe and lotse-console.exe (release)
#   ./scripts/windows.sh e2e     # the stamped lotse.exe under Wine, end to end
#   ./scripts/windows.sh env     # print the environment the other steps use
#
# Nothing comes from outside the Debian archive and crates.io: Debian 12
# has no `rust-src` for rustup's toolchain, so the exact source of the
# running rustc is fetched from the same archive's trixie-backports suite
# with a private apt configuration (its own lists and status under the
# cache directory); the machine's apt sources stay untouched. The package
# must be the source of `rustc -vV`'s release, else the build is refused.
# See ../shared/platforms/WINDOWS.md for what was shown to work here.
#
# Cache: $LOTSE_CACHE (default ~/.cache/lotse)/windows. Honors
# CARGO_TARGET_DIR like the other scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

TARGET=x86_64-pc-windows-gnu
cache="${LOTSE_CACHE:-$HOME/.cache/lotse}/windows"
# The crates whose unit tests run under Wine: the platform-independent ones
# and lotse-desktop's own core (its X11 integration tests are Linux-only).
PORTABLE="lotse-protocol lotse-link lotse-codec lotse-desktop"

release=$(rustc -vV | sed -n 's/^release: //p')
src_root="$cache/rust-src-$release/usr/src/rustc-$release/library"
prefix="$cache/wineprefix"

# apt-get/apt-cache with the private configuration in $cache/apt.
private_apt() {
    local tool=$1
    shift
    "$tool" -q \
        -o Dir::Etc::SourceList="$cache/apt/sources.list" \
        -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::Etc::Preferences=/dev/null \
        -o Dir::Etc::PreferencesParts=/dev/null \
        -o Dir::State::Lists="$cache/apt/lists" \
        -o Dir::State::Status="$cache/apt/status" \
        -o Dir::Cache="$cache/apt/cache" \
        -o Acquire::Check-Valid-Until=false \
        -o Acquire::Languages=none \
        -o APT::Sandbox::User="$(id -un)" \
        -o APT::Architectures::=amd64 \
        "$@"
}

# Debian's std source for this rustc, unpacked under $cache.
fetch_rust_src() {
    if [ -f "$src_root/std/Cargo.toml" ]; then
        return 0
    fi
    local uri version deb
    uri=$(lotse_archive_uri)
    mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
    touch "$cache/apt/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie-backports main" \
        >"$cache/apt/sources.list"
    echo "==> rust-src $release from $uri trixie-backports (private apt configuration)"
    private_apt apt-get update >/dev/null
    version=$(private_apt apt-cache madison rust-src | awk -v r="$release" \
        '$3 ~ "^"r"[+]" { print $3; exit }')
    if [ -z "$version" ]; then
        echo "no rust-src $release in trixie-backports: its versions are" >&2
        private_apt apt-cache madison rust-src >&2 || true
        echo "use a rustup toolchain whose release Debian packages" >&2
        return 1
    fi
    # apt checks the file against the SHA-256 of the signed index.
    (cd "$cache" && private_apt apt-get download "rust-src=$version" >/dev/null)
    deb=$(ls "$cache"/rust-src_*"${release}"*_all.deb)
    rm -rf "$cache/rust-src-$release"
    dpkg-deb -x "$deb" "$cache/rust-src-$release"
    rm -f "$deb"
    if [ ! -f "$src_root/std/Cargo.toml" ]; then
        echo "rust-src $version has no library at $src_root" >&2
        return 1
    fi
    echo "    $version unpacked: $src_root"
}

# Rust >= 1.78 std calls ProcessPrng from bcryptprimitives.dll, which
# Debian 12's Wine 8 lacks (real Windows 10+ has it): a stand-in built
# from tests/windows/bcryptprimitives.c goes into the prefix, for tests.
# Wine draws the window frames itself (`Decorated` = N), as Windows does:
# then a window's Windows rectangle is its X window, and what Lotse's app
# mask shows can be checked against the X screen. The end-to-end tests run
# Wine without a window manager; a window given the X focus becomes the
# active one (`UseTakeFocus` = N), as a click on it would make it.
wine_prefix() {
    local system32="$prefix/drive_c/windows/system32"
    if [ -f "$system32/bcryptprimitives.dll" ] && [ -f "$prefix/.lotse-ready-3" ]; then
        return 0
    fi
    echo "==> Wine prefix $prefix"
    mkdir -p "$prefix"
    WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
        wineboot -i >/dev/null 2>&1
    WINEPREFIX="$prefix" wineserver -w
    x86_64-w64-mingw32-gcc -O2 -shared -o "$system32/bcryptprimitives.dll" \
        tests/windows/bcryptprimitives.c tests/windows/bcryptprimitives.def -ladvapi32
    WINEPREFIX="$prefix" WINEDEBUG=-all \
        wine reg add 'HKCU\Software\Wine\X11 Driver' /v Decorated /d N /f >/dev/null
    WINEPREFIX="$prefix" WINEDEBUG=-all \
        wine reg add 'HKCU\Software\Wine\X11 Driver' /v UseTakeFocus /d N /f >/dev/null
    WINEPREFIX="$prefix" wineserver -w
    touch "$prefix/.lotse-ready-3"
}

# Start Xvfb 1280x800 on the first free display from :90; prints its number.
start_xvfb() {
    local n=90
    while [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ]; do
        n=$((n + 1))
    done
    Xvfb ":$n" -noreset -nolisten tcp -screen 0 1280x800x24 >/dev/null 2>&1 &
    echo "$!" >"$cache/xvfb.pid"
    local waited=0
    until [ -e "/tmp/.X11-unix/X$n" ]; do
        sleep 0.1
        waited=$((waited + 1))
        if [ "$waited" -gt 200 ]; then
            echo "Xvfb :$n did not start" >&2
            return 1
        fi
    done
    echo "$n"
}

stop_xvfb() {
    [ -f "$cache/xvfb.pid" ] && kill "$(cat "$cache/xvfb.pid")" 2>/dev/null
    rm -f "$cache/xvfb.pid"
}

# The environment cargo needs for the Windows target.
windows_env() {
    export RUSTC_BOOTSTRAP=1
    export __CARGO_TESTS_ONLY_SRC_ROOT="$src_root"
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
    export WINEPREFIX="$prefix"
    export WINEDEBUG=-all
    export WINEDLLOVERRIDES="mscoree,mshtml="
    # ring's C code, built by the cc crate.
    export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
    export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
}

# `cargo` for the Windows target (-Zbuild-std only here, never in a config
# file: that would hit the host builds too).
cargo_windows() {
    local sub=$1
    shift
    cargo "$sub" -Zbuild-std=std,panic_unwind --target "$TARGET" "$@"
}

case "${1:-}" in
setup)
    lotse_need windows
    fetch_rust_src
    wine_prefix
    ;;
test)
    windows_env
    # Wine draws on an X server: a private Xvfb, gone when the script ends.
    lotse_need test
    display=$(start_xvfb)
    trap 'stop_xvfb; WINEPREFIX="$prefix" wineserver -k 2>/dev/null || true' EXIT
    export DISPLAY=":$display"
    echo "==> tests of $PORTABLE for $TARGET, under Wine on Xvfb :$display"
    # shellcheck disable=SC2046 # one -p per crate
    cargo_windows test --locked $(printf -- '-p %s ' $PORTABLE) --lib --tests
    ;;
build)
    windows_env
    echo "==> lotse.exe and lotse-console.exe for $TARGET (release)"
    cargo_windows build --locked --release -p lotse-client -p lotse-console
    out="${CARGO_TARGET_DIR:-target}/$TARGET/release"
    for exe in lotse.exe lotse-console.exe; do
        echo "    $exe: $(($(stat -c %s "$out/$exe") / 1024)) KiB"
    done
    ;;
e2e)
    # The host-side test (relay, Xvfb, xdotool) drives the built lotse.exe
    # under Wine; a host build, so without the cross environment.
    lotse_need test
    exe="$(realpath -m "${CARGO_TARGET_DIR:-target}/$TARGET/release/lotse.exe")"
    if [ ! -f "$exe" ]; then
        echo "no $exe: run $0 build first" >&2
        exit 1
    fi
    # The test windows (tests/windows/testwin.c), a Windows program too.
    testwin="$cache/testwin.exe"
    x86_64-w64-mingw32-gcc -O2 -municode -o "$testwin" tests/windows/testwin.c -lgdi32
    export LOTSE_WINDOWS_CLIENT="$exe" LOTSE_WINDOWS_TESTWIN="$testwin" WINEPREFIX="$prefix"
    trap 'WINEPREFIX="$prefix" wineserver -k 2>/dev/null || true' EXIT
    echo "==> end to end: the stamped lotse.exe under Wine"
    # The binaries with the same package set as scripts/test.sh, so none is
    # rebuilt; the feature only adds this test target.
    cargo build --locked -p lotse-relay -p lotse-client -p lotse-console
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --locked -p lotse-e2e --features windows-e2e --test windows_client
    else
        cargo test --locked -p lotse-e2e --features windows-e2e --test windows_client
    fi
    ;;
env)
    windows_env
    env | grep -E '^(RUSTC_BOOTSTRAP|__CARGO_TESTS_ONLY_SRC_ROOT|CARGO_TARGET_X86_64_PC_WINDOWS_GNU_|WINE|CC_x86|AR_x86)' | sort
    ;;
*)
    echo "usage: $0 setup|test|build|e2e|env" >&2
    exit 2
    ;;
esac
