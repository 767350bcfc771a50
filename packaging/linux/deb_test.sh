#!/usr/bin/env bash
# Install the .deb into a clean Debian root and run the smoke test there (`make deb-test`).
#
#   bash packaging/linux/deb_test.sh [dist/gatehouse_VERSION_amd64.deb]
#
# Needs root (debootstrap, chroot, mount) and Debian's mirror. The minimal Debian root
# (debootstrap --variant=minbase bookworm) is made once into build/deb-test/base and copied
# fresh for every run; apt inside the copy installs the package with its Depends, nothing
# else. The smoke test (packaging/smoke_test.py) runs here and drives the installed
# /usr/bin/gatehouse inside the root as the package's service account. Then the package is
# installed again (the upgrade path) and removed: the site data must survive both.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUITE="${DEB_TEST_SUITE:-bookworm}"
MIRROR="${DEB_TEST_MIRROR:-http://deb.debian.org/debian}"
WORK="build/deb-test"
BASE="$WORK/base-$SUITE"
ROOTFS="$(pwd)/$WORK/root"
PY="${PYTHON:-.venv/bin/python}"
DEB="${1:-$(ls -t dist/gatehouse_*_amd64.deb 2>/dev/null | head -1)}"
[ -n "$DEB" ] && [ -f "$DEB" ] || { echo "deb-test: no .deb (run make package)"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "deb-test: needs root (chroot, mount)"; exit 2; }
command -v debootstrap >/dev/null || { echo "deb-test: apt-get install debootstrap"; exit 2; }

t0=$SECONDS
stamp() { echo "deb-test: $1 ($((SECONDS - t0)) s)"; }

cleanup() {
  for m in proc dev/pts dev; do
    mountpoint -q "$ROOTFS/$m" 2>/dev/null && umount -l "$ROOTFS/$m" || true
  done
}
trap cleanup EXIT

if [ ! -x "$BASE/bin/sh" ]; then
  rm -rf "$BASE.partial"
  mkdir -p "$WORK"
  stamp "debootstrap $SUITE (minbase) from $MIRROR"
  debootstrap --variant=minbase "$SUITE" "$BASE.partial" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; echo "deb-test: debootstrap failed"; exit 1; }
  mv "$BASE.partial" "$BASE"
fi
cleanup
rm -rf "$ROOTFS"
cp -a "$BASE" "$ROOTFS"
stamp "clean root copied ($(du -sxh "$ROOTFS" | cut -f1))"
mount -t proc proc "$ROOTFS/proc"
mount --bind /dev "$ROOTFS/dev"
mount --bind /dev/pts "$ROOTFS/dev/pts"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
cp "$DEB" "$ROOTFS/tmp/"
PKG="/tmp/$(basename "$DEB")"
in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }

in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends "$PKG" > "$WORK/apt-install.log" 2>&1 \
  || { tail -30 "$WORK/apt-install.log"; echo "deb-test: apt-get install failed"; exit 1; }
stamp "installed $(basename "$DEB") with its Depends ($(in_root dpkg-query -W -f='${Installed-Size}' gatehouse) KiB; root now $(du -sxh "$ROOTFS" | cut -f1))"

for f in /usr/bin/gatehouse /opt/gatehouse/gatehouse /usr/share/applications/gatehouse.desktop \
         /usr/share/icons/hicolor/scalable/apps/gatehouse.svg /lib/systemd/system/gatehouse.service \
         /usr/share/gatehouse/gatehouse-autostart.desktop /etc/default/gatehouse; do
  [ -e "$ROOTFS$f" ] || { echo "deb-test: $f missing"; exit 1; }
done
in_root getent passwd gatehouse >/dev/null || { echo "deb-test: no gatehouse user"; exit 1; }
[ "$(in_root stat -c %U /var/lib/gatehouse)" = gatehouse ] || { echo "deb-test: /var/lib/gatehouse not the service's"; exit 1; }
in_root gatehouse-kiosk-autostart enable >/dev/null
[ -L "$ROOTFS/etc/xdg/autostart/gatehouse.desktop" ] || { echo "deb-test: autostart not enabled"; exit 1; }
stamp "files, service account, kiosk autostart in place"

# The smoke test, as the service account, against the installed program.
DATA=/var/lib/gatehouse/smoke
"$PY" packaging/smoke_test.py \
  --exe "chroot --userspec=gatehouse:gatehouse $ROOTFS /usr/bin/env PATH=/usr/bin:/bin HOME=/var/lib/gatehouse LANG=C.UTF-8 XDG_RUNTIME_DIR=/tmp /usr/bin/gatehouse" \
  --data-root "$DATA" --host-root "$ROOTFS"
stamp "smoke test passed in the clean root"

# Upgrade path (same version again: the maintainer scripts' upgrade branch) and removal.
before="$(in_root gatehouse chargers --data-dir $DATA/site --format json)"
in_root dpkg -i "$PKG" > /dev/null
in_root apt-get remove -y -qq gatehouse > /dev/null
[ -f "$ROOTFS$DATA/site/gatehouse.db" ] || { echo "deb-test: removing the package lost the site data"; exit 1; }
in_root dpkg -i "$PKG" > /dev/null
after="$(in_root gatehouse chargers --data-dir $DATA/site --format json)"
[ "$before" = "$after" ] || { echo "deb-test: the site data changed over reinstall"; exit 1; }
stamp "reinstall and remove keep the site data"
echo "deb-test: passed in $((SECONDS - t0)) s"
