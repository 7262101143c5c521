#!/bin/sh
# Remove what install.sh installed: the client, its install marker, the
# lotse.desktop handler and its default-handler entry. Files it did not
# write are left alone.
set -eu

die() {
    printf 'uninstall.sh: %s\n' "$1" >&2
    exit 1
}

[ -n "${HOME:-}" ] || die "HOME is not set"
data="${XDG_DATA_HOME:-}"
case "$data" in /*) ;; *) data="$HOME/.local/share" ;; esac
config="${XDG_CONFIG_HOME:-}"
case "$config" in /*) ;; *) config="$HOME/.config" ;; esac
own="$data/lotse"

if [ -f "$own/installed" ]; then
    exe="$(head -n 1 "$own/installed")"
    # Only the program install.sh put there.
    case "$exe" in
        */.local/bin/lotse) rm -f "$exe" ;;
        *) printf 'uninstall.sh: leaving %s alone (not where install.sh installs)\n' "$exe" >&2 ;;
    esac
    rm -f "$own/installed"
fi
rmdir "$own" 2>/dev/null || true
rm -f "$data/applications/lotse.desktop"

# The default-handler line xdg-mime wrote.
for list in "$config/mimeapps.list" "$data/applications/mimeapps.list"; do
    if [ -f "$list" ] && grep -q '^x-scheme-handler/lotse=' "$list"; then
        sed -i '/^x-scheme-handler\/lotse=/d' "$list"
    fi
done
if command -v update-desktop-database >/dev/null 2>&1 && [ -d "$data/applications" ]; then
    update-desktop-database -q "$data/applications" 2>/dev/null || true
fi

printf 'Lotse removed; lotse:// links no longer open it.\n'
