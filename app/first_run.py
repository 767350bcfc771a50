"""The installer's first run: is a setup needed, and apply what the setup dialog chose.

Qt-free: ui/dialogs/first_run.py asks the questions, this module writes the answers
(the site, its stored settings, the first administrator) before the core is built.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from app.adapters.db import settings_repo, site_repo, staff_repo
from app.adapters.db.audit_repo import SqlAuditLog
from app.adapters.db.engine import make_engine
from app.adapters.db.migrate import upgrade
from app.adapters.db.writer import DbWriter
from app.config import Settings
from app.domain.site import Site
from app.domain.timeutil import utc_now
from app.services.staff import Role, StaffService
from app.site_import import SiteImport, save_import

log = logging.getLogger(__name__)

SETUP_ACTOR = "first-run setup"


class Start(StrEnum):
    EMPTY = "empty"    # chargers are added as they connect
    DEMO = "demo"      # the demo site's layout (chargers, bays, lanes) to edit later
    IMPORT = "import"  # chargers and bays (and tags) from CSV files


@dataclass(frozen=True, slots=True)
class SetupState:
    needed: bool      # the site database has no site yet
    has_admin: bool   # an administrator account exists (e.g. made with `gatehouse user add`)


@dataclass(frozen=True)
class SetupChoices:
    site_name: str
    ocpp_port: int
    start: Start = Start.EMPTY
    tls_cert: Path | None = None
    tls_key: Path | None = None
    admin_username: str | None = None
    admin_password: str | None = None
    admin_display_name: str = ""
    imported: SiteImport | None = None

    def stored_settings(self) -> dict[str, object]:
        return {
            "ocpp.port": self.ocpp_port,
            "ocpp.tls_cert": str(self.tls_cert) if self.tls_cert else None,
            "ocpp.tls_key": str(self.tls_key) if self.tls_key else None,
        }


def setup_state(settings: Settings) -> SetupState:
    """Open (and migrate) the site database and look. Synchronous: runs before the loop."""
    if settings.demo:
        return SetupState(needed=False, has_admin=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            site = site_repo.load_site(conn)
            users = staff_repo.list_users(conn)
    finally:
        engine.dispose()
    return SetupState(needed=site is None,
                      has_admin=any(u.role is Role.ADMIN and not u.disabled for u in users))


def check_tls(cert: Path | None, key: Path | None) -> str | None:
    """None when the certificate and key load; otherwise what is wrong."""
    from app.bootstrap import tls_context

    if not cert or not key:
        return "TLS needs both a certificate file and a private key file (PEM)"
    try:
        tls_context(Settings(tls_cert=cert, tls_key=key, security_profile=2))
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        return f"the certificate or key cannot be used: {exc}"
    return None


def site_for(choices: SetupChoices) -> Site:
    if choices.start is Start.DEMO:
        from app.bootstrap import demo_site

        return dataclasses.replace(demo_site(), name=choices.site_name.strip())
    if choices.start is Start.IMPORT:
        if choices.imported is None:
            raise ValueError("no CSV import to apply")
        return dataclasses.replace(choices.imported.site, name=choices.site_name.strip())
    return Site(name=choices.site_name.strip())


async def apply_setup(settings: Settings, choices: SetupChoices) -> Site:
    """Write the first administrator, then the site and its settings. An administrator
    that cannot be created (taken name, weak password) leaves the site unwritten, so the
    setup is offered again."""
    site = site_for(choices)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_db_url)
    writer = DbWriter(engine, name="db-setup")
    writer.start()
    try:
        await writer.run(lambda _conn: upgrade(engine))
        audit = SqlAuditLog(writer, utc_now).audit
        if choices.admin_username:
            staff = StaffService(staff_repo.SqlStaffStore(writer), audit, utc_now)
            await staff.create(SETUP_ACTOR, choices.admin_username,
                               choices.admin_password or "", Role.ADMIN,
                               choices.admin_display_name)
        imported = (SiteImport(site, choices.imported.tags) if choices.imported
                    and choices.start is Start.IMPORT else SiteImport(site))

        def write(conn) -> None:
            save_import(conn, imported)
            settings_repo.save_settings(conn, choices.stored_settings())

        await writer.run(write)
        audit(SETUP_ACTOR, "site.setup", site.name, {
            "start": str(choices.start), "ocpp_port": choices.ocpp_port,
            "tls": bool(choices.tls_cert), "chargers": len(site.chargers),
            "bays": len(site.bays), "tags": len(imported.tags)})
    finally:
        writer.stop()
        engine.dispose()
    log.info("first-run setup done: site %r, %s", site.name, str(choices.start),
             extra={"event": "setup_done", "site": site.name, "start": str(choices.start)})
    return site
