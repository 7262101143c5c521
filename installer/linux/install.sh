#!/bin/sh
# Install the Lotse support client for this user and let it open
# lotse:// links (the web chat's "Continue in the app").
#
#   sh install.sh [DOWNLOADED-CLIENT]     (default: ./lotse)
#
# * copies the client downloaded from your support page to
#   ~/.local/bin/lotse (its stamp says which server it talks to),
# * records that path in ${XDG_DATA_HOME:-~/.local/share}/lotse/installed:
#   the client at exactly that path is "installed" and does not remove
#   itself after a session (a plain download always does),
# * writes ${XDG_DATA_HOME:-~/.local/share}/applications/lotse.desktop
#   with MimeType=x-scheme-handler/lotse; and makes it the default
#   handler (xdg-mime default).
#
# Nothing outside your home directory is touched; no root needed.
# Undo with uninstall.sh next to this script.
set -eu

die() {
    printf 'install.sh: %s\n' "$1" >&2
    exit 1
}

src="${1:-./lotse}"
[ -n "${HOME:-}" ] || die "HOME is not set"
case "$HOME" in /*) ;; *) die "HOME must be an absolute path" ;; esac
[ -f "$src" ] || die "no client program at $src; download it from your support page first"

# A Lotse client: an ELF program carrying a download stamp at its end.
[ "$(head -c 4 "$src" | tail -c 3)" = "ELF" ] || die "$src is not a Linux program"
[ "$(tail -c 16 "$src" | head -c 14)" = "LOTSE-STAMP-v1" ] ||
    die "$src is not a Lotse client downloaded from a support page (no stamp)"

data="${XDG_DATA_HOME:-}"
case "$data" in /*) ;; *) data="$HOME/.local/share" ;; esac
bindir="$HOME/.local/bin"
apps="$data/applications"
own="$data/lotse"

mkdir -p "$bindir" "$apps" "$own"
bindir="$(cd "$bindir" && pwd -P)"
exe="$bindir/lotse"
case "$exe" in
    *[!A-Za-z0-9/._+-]*)
        die "the path $exe has characters a .desktop Exec line cannot carry safely"
        ;;
esac

# Copy first, then move into place: a running client is never overwritten.
tmp="$bindir/.lotse.install.$$"
cp "$src" "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$exe"

printf '%s\n' "$exe" > "$own/installed.$$"
mv -f "$own/installed.$$" "$own/installed"

cat > "$apps/lotse.desktop.$$" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Lotse remote support
Name[de]=Lotse Fernwartung
Comment=Continues a support chat from the web page in the Lotse app
Comment[de]=Setzt einen Support-Chat von der Webseite im Lotse-Programm fort
Exec=$exe %u
Terminal=false
NoDisplay=true
MimeType=x-scheme-handler/lotse;
DESKTOP
mv -f "$apps/lotse.desktop.$$" "$apps/lotse.desktop"

if command -v xdg-mime >/dev/null 2>&1; then
    xdg-mime default lotse.desktop x-scheme-handler/lotse
else
    printf 'install.sh: xdg-mime not found (package xdg-utils); lotse:// links will not open the app until your desktop picks up %s\n' "$apps/lotse.desktop" >&2
fi
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$apps" 2>/dev/null || true
fi

printf 'Installed %s\nlotse:// links now open it. Remove it with uninstall.sh.\n' "$exe"
