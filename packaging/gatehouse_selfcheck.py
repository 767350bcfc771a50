"""Self-check of the frozen app: is everything it loads at run time really inside it?

Run as `GATEHOUSE_SELFCHECK=1 gatehouse` (packaging/entry.py). Prints one JSON object
{"ok": bool, "checks": {name: {"ok": bool, ...}}} and exits 0 only if every check passed.
Used by packaging/smoke_test.py on the build machine, in a clean Debian root and on Windows.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _bundle() -> Path:
    return Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))


def check_version() -> dict[str, Any]:
    from app import __version__

    return {"ok": not __version__.startswith("0.0.0"), "version": __version__}


def check_ocpp_schemas() -> dict[str, Any]:
    import ocpp

    base = Path(ocpp.__file__).parent
    counts = {v: len(list((base / v / "schemas").glob("*.json"))) for v in ("v16", "v201")}
    boot = json.loads((base / "v16" / "schemas" / "BootNotification.json").read_text("utf-8"))
    return {"ok": all(n > 20 for n in counts.values()) and "properties" in boot,
            "schemas": counts}


def check_migrations() -> dict[str, Any]:
    from app.adapters.db.migrate import MIGRATIONS, head_revision

    scripts = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    head = head_revision()
    return {"ok": bool(scripts) and head is not None, "head": head, "scripts": scripts}


def check_resources() -> dict[str, Any]:
    import resources

    needed = [("demo", "site.json"), ("icons", "gatehouse.svg"), ("themes", "light.qss"),
              ("gatehouse.desktop",)]
    missing = ["/".join(p) for p in needed if not resources.path(*p).is_file()]
    return {"ok": not missing, "missing": missing}


def check_opencv() -> dict[str, Any]:
    import cv2

    cascade = Path(cv2.data.haarcascades) / "haarcascade_russian_plate_number.xml"
    classifier = cv2.CascadeClassifier(str(cascade))
    return {"ok": not classifier.empty(), "version": cv2.__version__,
            "cascades": len(list(Path(cv2.data.haarcascades).glob("*.xml")))}


def _qt_plugins() -> Path:
    from PySide6.QtCore import QLibraryInfo

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))


def check_qt() -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QApplication

    from ui.theme import app_icon, apply_theme

    app = QApplication.instance() or QApplication([sys.argv[0]])
    apply_theme(app)
    pixmap = app_icon().pixmap(QSize(64, 64))  # needs the SVG icon engine plugin
    plugins = _qt_plugins()
    platforms = sorted(p.name for p in (plugins / "platforms").iterdir()) \
        if (plugins / "platforms").is_dir() else []
    wanted = ["offscreen", "xcb"] if sys.platform.startswith("linux") else ["windows"]
    missing = [w for w in wanted if not any(w in name for name in platforms)]
    return {"ok": not pixmap.isNull() and not missing, "platform": app.platformName(),
            "platform_plugins": platforms, "missing": missing}


def check_shared_libraries() -> dict[str, Any]:
    """Linux: every Qt plugin and bundled library loads, i.e. the system libraries they
    need (the .deb's Depends) are there. The xcb plugin is the one a real screen needs."""
    if not sys.platform.startswith("linux"):
        return {"ok": True, "skipped": "not Linux"}
    if not getattr(sys, "frozen", False):
        return {"ok": True, "skipped": "not frozen"}
    bundle = _bundle()
    failed: dict[str, str] = {}
    count = 0
    # Qt plugins and shared libraries (libfoo.so.N); Python extension modules are loaded
    # by the imports check.
    candidates = [p for p in bundle.rglob("*.so*")
                  if ".so." in p.name or "plugins" in p.parts]
    for path in sorted(candidates):
        if not path.is_file():
            continue
        count += 1
        try:
            ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)
        except OSError as exc:
            failed[str(path.relative_to(bundle))] = str(exc).split(": ", 1)[-1]
    return {"ok": not failed, "loaded": count, "failed": failed}


def check_imports() -> dict[str, Any]:
    import numpy
    import pyqtgraph
    import qasync
    import sqlalchemy
    import websockets

    import app.bootstrap
    import app.cli_users
    import app.sim.site  # noqa: F401
    import ui.main  # noqa: F401

    return {"ok": True, "numpy": numpy.__version__, "pyqtgraph": pyqtgraph.__version__,
            "sqlalchemy": sqlalchemy.__version__, "websockets": websockets.__version__,
            "qasync": getattr(qasync, "__version__", "?")}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "version": check_version,
    "ocpp_schemas": check_ocpp_schemas,
    "migrations": check_migrations,
    "resources": check_resources,
    "opencv": check_opencv,
    "imports": check_imports,
    "qt": check_qt,
    "shared_libraries": check_shared_libraries,
}


def main() -> int:
    results: dict[str, Any] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:
            results[name] = {"ok": False, "error": repr(exc),
                             "traceback": traceback.format_exc(limit=5)}
    ok = all(r.get("ok") for r in results.values())
    print(json.dumps({"ok": ok, "frozen": bool(getattr(sys, "frozen", False)),
                      "checks": results}, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
