"""The packaging scripts' logic, fast. The slow steps (PyInstaller, the smoke test of the
frozen app, the .deb in a clean Debian root) run only when asked:

    GATEHOUSE_PACKAGE_TEST=1   smoke-test the existing dist/gatehouse build (make package)
    GATEHOUSE_DEB_TEST=1       install the existing .deb into a clean Debian root (root)
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.bootstrap import build_core
from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def _load(name: str):
    """packaging/ holds scripts, not a package: load one under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"_packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = _load("build")
gatehouse_selfcheck = _load("gatehouse_selfcheck")
smoke_test = _load("smoke_test")


def test_version_conversions():
    assert build.debian_version("0.1.0") == "0.1.0"
    assert build.debian_version("0.2.0rc1") == "0.2.0~rc1"
    assert build.debian_version("1.0.0.dev3") == "1.0.0~dev3"
    assert build.windows_version("0.1.0") == "0.1.0.0"
    assert build.windows_version("2.3.4rc1") == "2.3.4.1"
    assert build.windows_version("7") == "7.0.0.0"


def test_smoke_test_reads_the_version_and_head_revision_from_the_source():
    assert smoke_test.project_version() == build.project_version()
    from app.adapters.db.migrate import head_revision

    assert smoke_test.head_revision() == head_revision()


def test_selfcheck_checks_pass_from_the_source_tree():
    for name in ("ocpp_schemas", "migrations", "resources", "opencv", "imports"):
        result = gatehouse_selfcheck.CHECKS[name]()
        assert result["ok"], (name, result)
    assert gatehouse_selfcheck.check_migrations()["head"] == smoke_test.head_revision()


async def test_the_smoke_tests_charger_speaks_ocpp_to_the_real_server(tmp_path):
    settings = Settings(data_dir=tmp_path, log_dir=None, ocpp_host="127.0.0.1", ocpp_port=0)
    core = await build_core(settings)
    await core.start()
    try:
        def session() -> tuple[dict, dict, dict]:
            charger = smoke_test.MiniCharger("127.0.0.1", core.ocpp_server.port, "MINI-1")
            try:
                return (charger.call("BootNotification", {"chargePointVendor": "V",
                                                          "chargePointModel": "M"}),
                        charger.call("StatusNotification", {
                            "connectorId": 1, "errorCode": "NoError", "status": "Available"}),
                        charger.call("Heartbeat", {}))
            finally:
                charger.close()

        boot, status, beat = await asyncio.to_thread(session)
    finally:
        await core.stop()
    assert boot["status"] == "Accepted" and status == {} and "currentTime" in beat


def test_spec_collects_what_the_frozen_app_loads_at_run_time():
    spec = (PACKAGING / "gatehouse.spec").read_text()
    for needle in ('collect_data_files("ocpp")', 'collect_data_files("resources")',
                   '"migrations"', 'collect_submodules("alembic"', "cv2", "gatehouse_selfcheck"):
        assert needle in spec, needle


def test_nsis_script_has_the_promised_parts():
    nsi = (PACKAGING / "windows" / "gatehouse.nsi").read_text()
    for needle in ("$SMPROGRAMS", "advfirewall firewall add rule", "localport=$OcppPort",
                   "CurrentVersion\\Run", "WriteUninstaller",
                   'OutFile "${OUTDIR}\\gatehouse-${VERSION}-setup.exe"'):
        assert needle in nsi, needle
    uninstall = nsi[nsi.index('Section "Uninstall"'):]
    assert "LOCALAPPDATA\\gatehouse" in uninstall
    assert not re.search(r"RMDir /r \"?\$LOCALAPPDATA", uninstall), "the site data is kept"


def test_debian_files():
    unit = (PACKAGING / "linux" / "gatehouse.service").read_text()
    assert "serve --headless --data-dir /var/lib/gatehouse" in unit
    assert "User=gatehouse" in unit
    for script in ("postinst", "prerm", "postrm"):
        path = PACKAGING / "linux" / script
        assert os.access(path, os.X_OK), script
        subprocess.run(["sh", "-n", str(path)], check=True)
    assert "rm -rf /var/lib/gatehouse" not in (PACKAGING / "linux" / "postrm").read_text()
    desktop = (ROOT / "resources" / "gatehouse.desktop").read_text()
    assert "Exec=gatehouse" in desktop and "Icon=gatehouse" in desktop


@pytest.mark.timeout(300)
@pytest.mark.skipif(not os.environ.get("GATEHOUSE_PACKAGE_TEST"),
                    reason="slow: set GATEHOUSE_PACKAGE_TEST=1 after `make package`")
def test_frozen_build_passes_the_smoke_test():
    program = ROOT / "dist" / "gatehouse" / "gatehouse"
    assert program.exists(), "run make package first"
    assert smoke_test.main([str(program)]) == 0


@pytest.mark.timeout(1200)
@pytest.mark.skipif(not os.environ.get("GATEHOUSE_DEB_TEST"),
                    reason="slow, needs root: set GATEHOUSE_DEB_TEST=1 after `make package`")
def test_deb_installs_and_runs_in_a_clean_debian_root():
    subprocess.run(["bash", str(PACKAGING / "linux" / "deb_test.sh")], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHON": sys.executable})
