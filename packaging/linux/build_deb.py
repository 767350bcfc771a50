"""Make the Debian package from the PyInstaller onedir build (dpkg-deb, no debhelper).

    python packaging/linux/build_deb.py --version 0.1.0 --payload dist/gatehouse --out dist

The package installs the program in /opt/gatehouse, `gatehouse` in /usr/bin, the desktop
entry and icon, an autostart entry for kiosk PCs (off until `gatehouse-kiosk-autostart
enable`), and a systemd unit for the headless server (off until enabled).

Depends are computed like dpkg-shlibdeps does: a library PyInstaller copied from this
Debian system (byte-identical to the installed one) is left out of the package and the
Debian package that ships it becomes a dependency; then every ELF file in the package is
run through ldd and each library found outside the package adds its Debian package.
A library found nowhere fails the build.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARCH = "amd64"
MULTIARCH_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib", "/lib",
                  "/usr/lib64", "/lib64")
# Always needed though no ELF file names them: fonts for Qt (through fontconfig), the
# useradd of postinst, the X11 platform plugin's cursor library (loaded by name).
BASE_DEPENDS = ("passwd", "fontconfig", "libxcb-cursor0")
# Libraries the app may use but that are optional on a site PC.
OPTIONAL = {"libvulkan.so.1"}

_package_cache: dict[str, str | None] = {}


def dpkg_package(path: str) -> str | None:
    """The Debian package that ships a library (by name in the multiarch folders)."""
    name = Path(path).name
    if name in _package_cache:
        return _package_cache[name]
    found = None
    out = subprocess.run(["dpkg-query", "-S", f"*/{name}"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        package, _, where = line.partition(": ")
        if Path(where).name == name and str(Path(where).parent) in MULTIARCH_DIRS:
            found = package.split(":")[0].split(",")[0].strip()
            break
    _package_cache[name] = found
    return found


def installed_copy(name: str) -> Path | None:
    for folder in MULTIARCH_DIRS:
        candidate = Path(folder) / name
        if candidate.exists():
            return candidate
    return None


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def strip_system_libraries(internal: Path) -> dict[str, str]:
    """Remove libraries copied from this system; returns {library: package}."""
    removed: dict[str, str] = {}
    for lib in sorted(internal.glob("*.so*")):
        if not lib.is_file() or lib.is_symlink():
            continue
        system = installed_copy(lib.name)
        if system is None or not filecmp.cmp(lib, system.resolve(), shallow=False):
            continue
        package = dpkg_package(str(system))
        if package is None:
            continue
        lib.unlink()
        removed[lib.name] = package
    return removed


def ldd_depends(payload: Path) -> tuple[set[str], dict[str, list[str]]]:
    """Packages of the libraries the ELF files load from outside the payload."""
    elves = [p for p in payload.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]
    bundled = {p.name for p in payload.rglob("*.so*")}
    lib_dirs = sorted({str(p.parent) for p in payload.rglob("*.so*")})
    env = {**os.environ, "LD_LIBRARY_PATH": ":".join(lib_dirs)}
    pattern = re.compile(r"^\s*(\S+)\s*=>\s*(not found|(\S+))")

    def one(path: Path) -> list[tuple[str, str | None]]:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
        found = []
        for line in out.stdout.splitlines():
            match = pattern.match(line)
            if match:
                found.append((match.group(1), match.group(3)))
        return found

    packages: set[str] = set()
    missing: dict[str, list[str]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, libs in zip(elves, pool.map(one, elves), strict=True):
            for name, where in libs:
                if where is None:
                    if name not in bundled and name not in OPTIONAL:
                        missing.setdefault(name, []).append(str(path.relative_to(payload)))
                    continue
                if Path(where).resolve().is_relative_to(payload.resolve()):
                    continue
                package = dpkg_package(where)
                if package is None:
                    missing.setdefault(name, []).append(str(path.relative_to(payload)))
                else:
                    packages.add(package)
    return packages, missing


def glibc_version() -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libc6"], capture_output=True,
                         text=True, check=True)
    return out.stdout.split("-")[0]


def install(src: Path, dst: Path, mode: int = 0o644) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    dst.chmod(mode)


def build(version: str, payload: Path, out: Path, work: Path,
          compress: str = "zstd") -> Path:
    shutil.rmtree(work, ignore_errors=True)
    root = work / "root"
    opt = root / "opt" / "gatehouse"
    shutil.copytree(payload, opt, symlinks=True)
    stripped = strip_system_libraries(opt / "_internal")
    ldd_packages, missing = ldd_depends(opt)
    if missing:
        lines = "\n".join(f"  {lib} (needed by {', '.join(users[:3])})"
                          for lib, users in sorted(missing.items()))
        raise SystemExit(f"libraries found neither in the build nor in a Debian package:\n"
                         f"{lines}\ninstall them here (apt-get) so their package is known")
    depends = sorted(set(stripped.values()) | ldd_packages | set(BASE_DEPENDS))
    depends = [f"libc6 (>= {glibc_version()})" if d == "libc6" else d for d in depends]

    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "gatehouse").write_text('#!/bin/sh\nexec /opt/gatehouse/gatehouse "$@"\n')
    (bin_dir / "gatehouse").chmod(0o755)
    install(HERE / "gatehouse-kiosk-autostart", bin_dir / "gatehouse-kiosk-autostart", 0o755)
    share = root / "usr" / "share"
    install(ROOT / "resources" / "gatehouse.desktop", share / "applications" /
            "gatehouse.desktop")
    install(ROOT / "resources" / "icons" / "gatehouse.svg",
            share / "icons" / "hicolor" / "scalable" / "apps" / "gatehouse.svg")
    png = ROOT / "build" / "gen" / "gatehouse.png"
    if png.exists():
        install(png, share / "icons" / "hicolor" / "256x256" / "apps" / "gatehouse.png")
    install(HERE / "gatehouse-autostart.desktop", share / "gatehouse" /
            "gatehouse-autostart.desktop")
    install(HERE / "README.Debian", share / "doc" / "gatehouse" / "README.Debian")
    (share / "doc" / "gatehouse" / "copyright").write_text(
        "Gatehouse: proprietary, (c) the Gatehouse developers.\n"
        "Bundled: Python, Qt/PySide6 (LGPLv3), OpenCV (Apache-2.0), NumPy, SQLAlchemy,\n"
        "Alembic, ocpp, websockets (see /opt/gatehouse/_internal/*.dist-info).\n")
    install(HERE / "gatehouse.service", root / "lib" / "systemd" / "system" /
            "gatehouse.service")
    install(HERE / "default.conf", root / "etc" / "default" / "gatehouse")

    debian = root / "DEBIAN"
    debian.mkdir()
    for script in ("postinst", "prerm", "postrm"):
        install(HERE / script, debian / script, 0o755)
    (debian / "conffiles").write_text("/etc/default/gatehouse\n")
    size_kib = sum(p.stat().st_size for p in root.rglob("*")
                   if p.is_file() and not p.is_symlink()) // 1024
    control = f"""Package: gatehouse
Version: {version}
Architecture: {ARCH}
Maintainer: Gatehouse developers <gatehouse@localhost>
Installed-Size: {size_kib}
Depends: {", ".join(depends)}
Recommends: xdg-utils
Section: misc
Priority: optional
Homepage: https://localhost/gatehouse
Description: parking access control and EV charging console (OCPP central system)
 Gatehouse is the console of a car park's gatehouse PC: the chargers' OCPP
 central system (OCPP-J 1.6 and 2.0.1), the entry and exit lanes (ANPR
 cameras, barriers) and one live map of bays and chargers.
 .
 This package holds the console (gatehouse), a systemd unit for the headless
 server (gatehouse.service, not enabled) and an optional autostart entry for
 kiosk PCs (gatehouse-kiosk-autostart enable).
"""
    (debian / "control").write_text(control)
    for path in root.rglob("*"):  # predictable modes whatever the umask of the build
        if path.is_dir():
            path.chmod(0o755)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"gatehouse_{version}_{ARCH}.deb"
    level = {"zstd": "-z9", "xz": "-z6", "gzip": "-z6"}[compress]
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compress}", level,
                    "--build", str(root), str(target)], check=True)
    print(f"{target.name}: {len(depends)} dependencies ({len(stripped)} libraries left to "
          f"Debian): {', '.join(depends)}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", required=True, help="Debian version, e.g. 0.1.0")
    parser.add_argument("--payload", type=Path, default=ROOT / "dist" / "gatehouse")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "deb")
    parser.add_argument("--compress", choices=["zstd", "xz", "gzip"],
                        default=os.environ.get("GATEHOUSE_DEB_COMPRESS", "zstd"),
                        help="zstd (default: Debian 12+, Ubuntu 21.10+; seconds), xz (any "
                             "dpkg, a fifth smaller, minutes), gzip")
    args = parser.parse_args(argv)
    if not (args.payload / "gatehouse").is_file():
        parser.error(f"no onedir build in {args.payload} (run packaging/build.py)")
    build(args.version, args.payload.resolve(), args.out.resolve(), args.work.resolve(),
          args.compress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
