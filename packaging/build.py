"""Build the Gatehouse installers' payload: `make package` runs this.

1. app/_version.py from pyproject.toml (a frozen app has no package metadata), icons
   (PNG + multi-size ICO) rendered from resources/icons/gatehouse.svg into build/gen;
2. PyInstaller onedir build: dist/gatehouse/ (packaging/gatehouse.spec);
3. the smoke test of the frozen app (packaging/smoke_test.py): the build fails without it;
4. Linux: dist/gatehouse-VERSION-linux-x86_64.tar.gz and the Debian package
   dist/gatehouse_VERSION_amd64.deb (packaging/linux/build_deb.py);
   Windows: dist/gatehouse-VERSION-windows-x64.zip (the NSIS installer is made from
   dist/gatehouse by packaging/windows/gatehouse.nsi).

    python packaging/build.py [--skip-smoke] [--no-deb] [--no-archive]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DIST = ROOT / "dist"
BUILD = ROOT / "build"
GEN = BUILD / "gen"
WINDOWS = sys.platform == "win32"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def project_version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]


def debian_version(version: str) -> str:
    """PEP 440 -> Debian: pre-releases sort before the release (0.2.0rc1 -> 0.2.0~rc1)."""
    v = re.sub(r"\.?(a|b|rc|alpha|beta|dev)(\d*)", r"~\1\2", version)
    return v.replace("+", "+local.") if "+" in v else v


def windows_version(version: str) -> str:
    """Four numbers for the version resource (0.1.0 -> 0.1.0.0)."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:4]]
    return ".".join(str(n) for n in [*numbers, 0, 0, 0, 0][:4])


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


class Timer:
    def __init__(self) -> None:
        self.figures: list[tuple[str, float, str]] = []

    def step(self, name: str, func, *args, **kwargs):
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        result = func(*args, **kwargs)
        elapsed = time.monotonic() - t0
        self.figures.append((name, elapsed, result if isinstance(result, str) else ""))
        print(f"== {name}: {elapsed:.1f} s {result if isinstance(result, str) else ''}",
              flush=True)
        return result


def render_icons() -> str:
    """gatehouse.png (256 px, for Linux) and gatehouse.ico (PNG-compressed sizes, Windows)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(ROOT / "resources" / "icons" / "gatehouse.svg"))
    GEN.mkdir(parents=True, exist_ok=True)
    pngs: dict[int, bytes] = {}
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        pngs[size] = bytes(data.data())
    (GEN / "gatehouse.png").write_bytes(pngs[256])
    # ICO: header, one directory entry per size, then the PNG images (Windows Vista+).
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, png in pngs.items():
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    (GEN / "gatehouse.ico").write_bytes(header + entries + blobs)
    del _app
    return f"{len(pngs)} sizes"


def pyinstaller(version: str) -> str:
    version_file = ROOT / "app" / "_version.py"
    version_file.write_text(f'"""Written by packaging/build.py."""\n\nVERSION = "{version}"\n',
                            encoding="utf-8")
    try:
        shutil.rmtree(DIST / "gatehouse", ignore_errors=True)
        subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level",
                        "WARN", "--distpath", str(DIST), "--workpath",
                        str(BUILD / "pyinstaller"), str(HERE / "gatehouse.spec")],
                       cwd=ROOT, check=True)
    finally:
        version_file.unlink(missing_ok=True)
    return human(tree_size(DIST / "gatehouse"))


def frozen_program() -> Path:
    return DIST / "gatehouse" / ("gatehouse-cli.exe" if WINDOWS else "gatehouse")


def smoke_test(version: str) -> str:
    subprocess.run([sys.executable, str(HERE / "smoke_test.py"), str(frozen_program()),
                    "--expect-version", version], check=True)
    return "passed"


def archive(version: str) -> str:
    if WINDOWS:
        target = DIST / f"gatehouse-{version}-windows-x64.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in sorted((DIST / "gatehouse").rglob("*")):
                zf.write(path, Path(f"gatehouse-{version}") / path.relative_to(DIST / "gatehouse"))
    else:
        target = DIST / f"gatehouse-{version}-linux-x86_64.tar.gz"
        with tarfile.open(target, "w:gz", compresslevel=6) as tar:
            tar.add(DIST / "gatehouse", arcname=f"gatehouse-{version}")
    return f"{target.name} {human(target.stat().st_size)}"


def deb(version: str) -> str:
    subprocess.run([sys.executable, str(HERE / "linux" / "build_deb.py"), "--version",
                    debian_version(version), "--payload", str(DIST / "gatehouse"),
                    "--out", str(DIST)], check=True)
    target = DIST / f"gatehouse_{debian_version(version)}_amd64.deb"
    return f"{target.name} {human(target.stat().st_size)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the frozen app, test it, package it.")
    parser.add_argument("--skip-smoke", action="store_true",
                        help="do not run the smoke test (never for a release)")
    parser.add_argument("--no-deb", action="store_true", help="no Debian package")
    parser.add_argument("--no-archive", action="store_true", help="no tarball / zip")
    args = parser.parse_args(argv)
    version = project_version()
    print(f"Gatehouse {version} on {sys.platform}, Python {sys.version.split()[0]}", flush=True)
    timer = Timer()
    started = time.monotonic()
    timer.step("icons", render_icons)
    timer.step("pyinstaller onedir", pyinstaller, version)
    if not args.skip_smoke:
        timer.step("smoke test", smoke_test, version)
    if not args.no_archive:
        timer.step("archive", archive, version)
    if not WINDOWS and not args.no_deb:
        timer.step("debian package", deb, version)
    print(f"\nbuilt Gatehouse {version} in {time.monotonic() - started:.0f} s:")
    for name, elapsed, detail in timer.figures:
        print(f"  {name:<20} {elapsed:7.1f} s  {detail}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(f"build FAILED: {' '.join(map(str, exc.cmd[:3]))}... exited {exc.returncode}",
              file=sys.stderr)
        sys.exit(1)
