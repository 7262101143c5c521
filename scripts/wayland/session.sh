#!/bin/bash
# Runs as the test user inside `dbus-run-session` (started by scripts/wayland.sh start; inside
# the chroot for GNOME). Starts, in this order and each after the previous one is up (see
# ../../../shared/platforms/WAYLAND.md, rules 3 and 4): the compositor and PipeWire, then
# WirePlumber, then the portal backend, then xdg-desktop-portal; writes $LOTSE_WL_DIR/env and
# touches $LOTSE_WL_DIR/ready. Waits on conditions only (sockets, bus names, PipeWire clients).
set -euo pipefail
dir=$LOTSE_WL_DIR
echo $$ >"$dir/leader"
log() { echo "session.sh: $(date +%T.%N | cut -c1-12) $*" >&2; }
fail() {
    log "FAILED: $*"
    touch "$dir/failed"
    exit 1
}
# wait_until SECONDS WHAT COMMAND...: poll COMMAND every 20 ms until it succeeds.
wait_until() {
    local limit=$1 what=$2 i=0
    shift 2
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -lt $((limit * 50)) ] || fail "no $what after ${limit} s"
        sleep 0.02
    done
    log "$what"
}
alive() { kill -0 "$1" 2>/dev/null || fail "$2 exited"; }
bus_name() { gdbus wait --session --timeout "$1" "$2" || fail "bus name $2 not owned after $1 s"; log "$2 owned"; }
overview_is() {
    gdbus call --session --dest org.gnome.Shell --object-path /org/gnome/Shell \
        --method org.freedesktop.DBus.Properties.Get org.gnome.Shell OverviewActive | grep -q "<$1>"
}
wireplumber_connected() { alive "$wp" wireplumber && pw-cli ls Client | grep -q 'application.name = "WirePlumber'; }

pipewire >"$dir/pipewire.log" 2>&1 &
pw=$!

case $LOTSE_WL_KIND in
sway)
    export WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman WLR_HEADLESS_OUTPUTS=1
    export XDG_CURRENT_DESKTOP=sway
    mkdir -p "$XDG_CONFIG_HOME/sway" "$XDG_CONFIG_HOME/xdg-desktop-portal-wlr"
    cat >"$XDG_CONFIG_HOME/sway/config" <<CONF
output HEADLESS-1 resolution 1280x800 position 0 0
input * xkb_layout de
xwayland disable
default_border none
default_floating_border none
focus_follows_mouse no
for_window [app_id="^lotse-typed"] fullscreen enable
exec sh -c 'env > "$dir/sway-env.tmp" && mv "$dir/sway-env.tmp" "$dir/sway-env"'
CONF
    cat >"$XDG_CONFIG_HOME/xdg-desktop-portal-wlr/config" <<CONF
[screencast]
output_name=HEADLESS-1
chooser_type=none
max_fps=30
CONF
    sway -c "$XDG_CONFIG_HOME/sway/config" >"$dir/compositor.log" 2>&1 &
    comp=$!
    wait_until 10 "PipeWire socket" test -S "$XDG_RUNTIME_DIR/pipewire-0"
    wireplumber >"$dir/wireplumber.log" 2>&1 &
    wp=$!
    wait_until 20 "sway (exec ran)" sh -c "kill -0 $comp && test -f '$dir/sway-env'"
    WAYLAND_DISPLAY=$(sed -n 's/^WAYLAND_DISPLAY=//p' "$dir/sway-env")
    SWAYSOCK=$(sed -n 's/^SWAYSOCK=//p' "$dir/sway-env")
    export WAYLAND_DISPLAY SWAYSOCK
    wait_until 10 "WirePlumber connected" wireplumber_connected
    dbus-update-activation-environment WAYLAND_DISPLAY SWAYSOCK XDG_CURRENT_DESKTOP XDG_RUNTIME_DIR \
        XDG_CONFIG_HOME XDG_DATA_HOME XDG_SESSION_TYPE
    "$LOTSE_WL_XDPW" -l INFO >"$dir/portal-backend.log" 2>&1 &
    bus_name 10 org.freedesktop.impl.portal.desktop.wlr
    ;;
gnome | mutter)
    export XDG_CURRENT_DESKTOP=GNOME GSETTINGS_BACKEND=keyfile WAYLAND_DISPLAY=wayland-0
    # German keyboard: gnome-shell applies input-sources (bare mutter ignores them and stays
    # "us"); no animations, no welcome tour.
    mkdir -p "$XDG_CONFIG_HOME/glib-2.0/settings"
    cat >"$XDG_CONFIG_HOME/glib-2.0/settings/keyfile" <<CONF
[org/gnome/desktop/input-sources]
sources=[('xkb', 'de')]

[org/gnome/desktop/interface]
enable-animations=false
enable-hot-corners=false

[org/gnome/shell]
welcome-dialog-last-shown-version='999'

[org/gnome/desktop/notifications]
show-banners=false

[org/gnome/desktop/screensaver]
lock-enabled=false
CONF
    compositor=mutter
    if [ "$LOTSE_WL_KIND" = gnome ]; then
        compositor=gnome-shell
        # gnome-shell wants some system bus: an empty private one.
        export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$XDG_RUNTIME_DIR/system_bus_socket"
        dbus-daemon --session --nofork --address="$DBUS_SYSTEM_BUS_ADDRESS" >"$dir/system-bus.log" 2>&1 &
        wait_until 10 "private system bus" test -S "$XDG_RUNTIME_DIR/system_bus_socket"
    fi
    "$compositor" --headless --no-x11 --wayland --wayland-display=wayland-0 --virtual-monitor 1280x800 \
        >"$dir/compositor.log" 2>&1 &
    comp=$!
    wait_until 10 "PipeWire socket" test -S "$XDG_RUNTIME_DIR/pipewire-0"
    wireplumber >"$dir/wireplumber.log" 2>&1 &
    wp=$!
    bus_name 30 org.gnome.Mutter.ScreenCast
    bus_name 10 org.gnome.Mutter.RemoteDesktop
    wait_until 20 "Wayland socket" test -S "$XDG_RUNTIME_DIR/wayland-0"
    if [ "$compositor" = gnome-shell ]; then
        # The shell starts in the overview: leave it, as a user would.
        bus_name 30 org.gnome.Shell
        wait_until 20 "overview shown (shell started)" overview_is true
        # Escape, as a user leaves it (hiding it over D-Bus while the shell still starts up
        # left some sessions deaf to pointer buttons).
        "$dir/bin/mutter.py" keys 1
        wait_until 10 "overview closed" overview_is false
    fi
    wait_until 10 "WirePlumber connected" wireplumber_connected
    dbus-update-activation-environment WAYLAND_DISPLAY XDG_CURRENT_DESKTOP XDG_RUNTIME_DIR \
        XDG_CONFIG_HOME XDG_DATA_HOME XDG_SESSION_TYPE GSETTINGS_BACKEND ${DBUS_SYSTEM_BUS_ADDRESS:+DBUS_SYSTEM_BUS_ADDRESS}
    GDK_BACKEND=wayland /usr/libexec/xdg-desktop-portal-gnome >"$dir/portal-backend.log" 2>&1 &
    bus_name 20 org.freedesktop.impl.portal.desktop.gnome
    ;;
*) fail "unknown kind $LOTSE_WL_KIND" ;;
esac
alive "$pw" pipewire
/usr/libexec/xdg-desktop-portal >"$dir/portal.log" 2>&1 &
bus_name 20 org.freedesktop.portal.Desktop

{
    for v in WAYLAND_DISPLAY XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS XDG_CURRENT_DESKTOP \
        XDG_SESSION_TYPE XDG_CONFIG_HOME XDG_DATA_HOME HOME USER LOGNAME LANG PATH \
        GSETTINGS_BACKEND DBUS_SYSTEM_BUS_ADDRESS SWAYSOCK LOTSE_WL_SESSION LOTSE_WL_KIND LOTSE_WL_DIR; do
        [ -n "${!v:-}" ] && echo "$v=${!v}"
    done
} >"$dir/env.tmp"
mv "$dir/env.tmp" "$dir/env"
touch "$dir/ready"
log "ready"
# The session lasts as long as its compositor.
wait "$comp" || true
log "compositor exited"
