"""The lanes panel: one card per entry/exit lane, live — barrier state, zone occupancy and
the full sign, the vehicle loop, the last decision at the lane — and the attendant's
actions: Raise… (manual override), Allow… / Refuse… at a lane's prompt, and the
anti-passback reset. Each asks a reason and is audited by the service.

Reads `core.lanes` (LaneService) and `core.gate` (GateService), listens to the
CoreBridge, and runs actions as coroutines on the qasync loop: a slot opens the dialog
(open(), never exec()) and schedules the coroutine once a reason is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QWidget

from ui.dialogs.raise_barrier import RaiseBarrierDialog
from ui.dialogs.reason import ReasonDialog
from ui.views.command_bar import actor_name
from ui.views.lane_card import (
    FAIL_COLOR,
    OK_COLOR,
    PENDING_COLOR,
    LaneCard,
    pill_style,
    pill_text,
)
from ui.views.scroll_body import scroll_body
from ui.views.violations_view import repeat_offender

__all__ = ["LaneCard", "LanePanel", "pill_style", "pill_text"]

log = logging.getLogger("gatehouse.ui.lane_panel")

ALLOW_REASONS = ("Plate checked by the attendant", "Paid at the desk", "Known visitor",
                 "Permit shown on paper")
REFUSE_REASONS = ("No permit, no payment", "Blocklisted vehicle", "Car park full")
APB_REASONS = ("Left without an exit read", "Entry misread", "Second car of the permit")


class LanePanel(QWidget):
    """All lanes of the site, one card each, updated live."""

    raiseFinished = Signal(str, str)  # lane_id, message
    actionFinished = Signal(str, str)  # lane_id, message (allow / refuse / APB reset)

    def __init__(self, core: Any, bridge: Any, parent: QWidget | None = None, *,
                 actor: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lanePanel")
        self._lanes = getattr(core, "lanes", None)
        self._gate = getattr(core, "gate", None)
        self._billing = getattr(core, "billing", None)
        self._core = core  # the offender badge: core.enforcement, when it runs
        self._zones = {z.id: z.name for z in getattr(core.site, "zones", ())}
        self.actor = actor or actor_name()
        self.cards: dict[str, LaneCard] = {}
        self.dialog: ReasonDialog | None = None
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._build()
        bridge.barrierChanged.connect(self._on_barrier)
        if hasattr(bridge, "gateEvent"):
            bridge.gateEvent.connect(self._on_gate_event)
            bridge.accessDecided.connect(self._on_decided)

    def _build(self) -> None:
        layout = scroll_body(self, "lanePanelBody", spacing=8)
        body = layout.parentWidget()
        lanes = self._lanes.lanes() if self._lanes is not None else ()
        self.empty_label = QLabel(
            "No lanes on this site." if self._lanes is not None
            else "Lanes are not available.", body)
        self.empty_label.setObjectName("muted")
        self.empty_label.setVisible(not lanes)
        layout.addWidget(self.empty_label)
        for lane in lanes:
            card = LaneCard(lane, self._lanes.barrier_name(lane.id), body)
            card.raise_button.clicked.connect(
                lambda _checked=False, lid=lane.id: self.ask_raise(lid))
            card.allow_button.clicked.connect(
                lambda _checked=False, lid=lane.id: self.ask_allow(lid))
            card.refuse_button.clicked.connect(
                lambda _checked=False, lid=lane.id: self.ask_refuse(lid))
            card.apb_button.clicked.connect(
                lambda _checked=False, lid=lane.id: self.ask_apb_reset(lid))
            card.pay_button.clicked.connect(
                lambda _checked=False, lid=lane.id: self.take_payment(lid))
            self.cards[lane.id] = card
            layout.addWidget(card)
            self._refresh(lane.id)
        layout.addStretch(1)

    # -- live state ------------------------------------------------------------------

    def card(self, lane_id: str) -> LaneCard:
        return self.cards[lane_id]

    def _refresh(self, lane_id: str, state: str | None = None) -> None:
        card = self.cards[lane_id]
        state = state or self._lanes.barrier_state(lane_id)
        card.set_state(state, self._lanes.barrier_detail(lane_id) if state == "fault" else "")
        if lane_id in self._busy:
            card.raise_button.setEnabled(False)
        self._refresh_gate(lane_id)

    def _refresh_gate(self, lane_id: str) -> None:
        if self._gate is None:
            return
        card = self.cards[lane_id]
        inside, capacity = self._gate.occupancy(card.zone_id)
        card.set_info(self._zones.get(card.zone_id, card.zone_id), inside, capacity,
                      self._gate.lane_full(lane_id), self._gate.vehicle_present(lane_id))
        prompt = self._gate.pending(lane_id)
        card.set_prompt(prompt)
        if prompt is not None and prompt.status == "Unpaid":
            # Access said yes, the bill says not yet: the line must not read "Accepted".
            card.set_decision(prompt.since, prompt.value, "Unpaid", "held for payment",
                              prompt.account_name)
        busy = lane_id in self._busy
        card.allow_button.setEnabled(not busy)
        card.refuse_button.setEnabled(not busy)

    def refresh(self) -> None:
        for lane_id in self.cards:
            self._refresh(lane_id)

    def _on_barrier(self, barrier_id: str, state: str) -> None:
        for card in self.cards.values():
            if card.barrier_id == barrier_id:
                self._refresh(card.lane_id, state)

    def _on_gate_event(self, event: Any) -> None:
        lane_id = getattr(event, "lane_id", None)
        if lane_id in self.cards:  # a prompt came or went
            self._refresh_gate(lane_id)
            return
        for card in self.cards.values():  # occupancy of a zone, or a lane's loop
            if card.zone_id == getattr(event, "zone_id", None) or (
                    card.barrier_id and card.barrier_id == getattr(event, "barrier_id", "")):
                self._refresh_gate(card.lane_id)

    def _on_decided(self, event: Any) -> None:
        card = self.cards.get(event.place) if event.point == "gate" else None
        if card is not None:
            card.set_decision(event.at, event.value, event.status, event.reason,
                              event.account_name, event.violation,
                              repeat_offender(self._core, event.value)
                              if event.kind == "plate" else 0)

    def showEvent(self, event: QShowEvent) -> None:
        # Barriers may have joined the core since the cards were built (demo start-up).
        super().showEvent(event)
        self.refresh()

    # -- the attendant's actions -------------------------------------------------------

    def _dialog(self, dialog: ReasonDialog, then: Callable[[ReasonDialog], None]
                ) -> ReasonDialog:
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.accepted.connect(lambda: then(dialog))
        dialog.open()  # never exec() under qasync
        return dialog

    def ask_raise(self, lane_id: str) -> ReasonDialog | None:
        if self._lanes is None or lane_id in self._busy:
            return None
        lane = self._lanes.lane(lane_id)
        dialog = RaiseBarrierDialog(lane.name, self._lanes.barrier_name(lane_id), self)
        return self._dialog(dialog, lambda d: self._schedule(
            lane_id, f"Raising ({d.reason()})…", self._raise(lane_id, d.reason()),
            self.raiseFinished))

    def ask_allow(self, lane_id: str) -> ReasonDialog | None:
        prompt = self._gate.pending(lane_id) if self._gate is not None else None
        if prompt is None or lane_id in self._busy:
            return None
        lane = self._lanes.lane(lane_id)
        dialog = ReasonDialog(
            f"Let through — {lane.name}",
            f"<b>{prompt.value}</b>: {prompt.reason}.<br>The barrier opens; the reason and "
            "your name are written to the audit trail. Correct the plate if the camera "
            "misread it.", ALLOW_REASONS, "Let through", self,
            value_label="Plate or card:", value=prompt.value)
        dialog.setObjectName("allowDialog")
        return self._dialog(dialog, lambda d: self._schedule(
            lane_id, f"Letting {d.value()} through…",
            self._allow(lane_id, d.reason(), d.value(), prompt.value), self.actionFinished))

    def ask_refuse(self, lane_id: str) -> ReasonDialog | None:
        prompt = self._gate.pending(lane_id) if self._gate is not None else None
        if prompt is None or lane_id in self._busy:
            return None
        lane = self._lanes.lane(lane_id)
        dialog = ReasonDialog(
            f"Refuse — {lane.name}", f"Refuse <b>{prompt.value}</b> at {lane.name}: the "
            "barrier stays closed. The reason is written to the audit trail.",
            REFUSE_REASONS, "Refuse", self)
        dialog.setObjectName("refuseDialog")
        return self._dialog(dialog, lambda d: self._refuse(lane_id, d.reason()))

    def ask_apb_reset(self, lane_id: str) -> ReasonDialog | None:
        if self._gate is None:
            return None
        card = self.cards[lane_id]
        dialog = ReasonDialog(
            "Reset anti-passback",
            "Close the open parking session of this plate or card, so its next read is "
            "decided afresh. The reason is written to the audit trail.",
            APB_REASONS, "Reset", self, value_label="Plate or card:", value=card.last_value)
        dialog.setObjectName("apbDialog")
        return self._dialog(dialog, lambda d: self._apb_reset(lane_id, d.value(), d.reason()))

    def take_payment(self, lane_id: str) -> None:
        """The car at the exit owes its bill: fix the bill now, ask how it is paid, record
        the payment, and decide the waiting car again (it goes through when paid)."""
        prompt = self._gate.pending(lane_id) if self._gate is not None else None
        session = self._gate.session_of(prompt.value) if prompt is not None else None
        if self._billing is None or session is None or lane_id in self._busy:
            return
        self._schedule(lane_id, "Fixing the bill…", self._settle_then_ask(lane_id, session.id),
                       self.actionFinished)

    async def _settle_then_ask(self, lane_id: str, session_id: int) -> tuple[str, bool]:
        from ui.dialogs.payment import PaymentDialog

        record = await self._billing.settle(session_id)
        dialog = PaymentDialog(record, self)
        dialog.setObjectName("lanePaymentDialog")
        self._dialog(dialog, lambda d: self._schedule(
            lane_id, "Recording the payment…",
            self._pay(lane_id, record, d.method(), d.reference(), d.amount()),
            self.actionFinished))
        return f"Bill {record.total / 100:.2f} {record.currency}: waiting for payment", True

    async def _pay(self, lane_id: str, record: Any, method: str, reference: str,
                   amount: int) -> tuple[str, bool]:
        await self._billing.pay(self.actor, record.id, method, reference, amount)
        self._gate.retry_pending(lane_id)
        through = self._gate.pending(lane_id) is None
        paid = f"{amount / 100:.2f} {record.currency} paid ({method})"
        return (f"{paid}; barrier opened" if through else f"{paid}; still owed"), through

    def _schedule(self, lane_id: str, pending: str, work: Awaitable[tuple[str, bool]],
                  done: Any) -> None:
        card = self.cards[lane_id]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            card.set_result("Not done (no event loop)", FAIL_COLOR)
            work.close()  # type: ignore[attr-defined]
            return
        self._busy.add(lane_id)
        card.raise_button.setEnabled(False)
        card.allow_button.setEnabled(False)
        card.set_result(pending, PENDING_COLOR)
        task = loop.create_task(self._run(lane_id, work, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, lane_id: str, work: Awaitable[tuple[str, bool]], done: Any) -> None:
        try:
            message, ok = await work
        except ValueError as exc:
            message, ok = f"Not done: {exc}", False
        except Exception as exc:  # a bug behind the service; the attendant still gets a line
            log.exception("lane action on %s failed", lane_id)
            message, ok = f"Not done: internal error: {type(exc).__name__}: {exc}", False
        if not shiboken6.isValid(self):
            return  # the window closed meanwhile
        self._busy.discard(lane_id)
        self.cards[lane_id].set_result(f"{'✓' if ok else '✗'} {message}",
                                       OK_COLOR if ok else FAIL_COLOR)
        self._refresh(lane_id)
        done.emit(lane_id, str(message))

    async def _raise(self, lane_id: str, reason: str) -> tuple[str, bool]:
        message = await self._lanes.raise_barrier(lane_id, actor=self.actor, reason=reason)
        return str(message), bool(getattr(message, "ok", True))

    async def _allow(self, lane_id: str, reason: str, value: str,
                     read: str) -> tuple[str, bool]:
        corrected = value if value and value != read else None
        message = await self._gate.allow_pending(lane_id, self.actor, reason, value=corrected)
        return str(message), self._gate.pending(lane_id) is None

    def _refuse(self, lane_id: str, reason: str) -> None:
        card = self.cards[lane_id]
        try:
            refused = self._gate.deny_pending(lane_id, self.actor, reason)
        except ValueError as exc:
            card.set_result(f"✗ Not refused: {exc}", FAIL_COLOR)
            return
        text = f"Refused ({reason})" if refused else "Nothing was waiting at this lane"
        card.set_result(f"{'✓' if refused else '✗'} {text}",
                        OK_COLOR if refused else FAIL_COLOR)
        self._refresh_gate(lane_id)
        self.actionFinished.emit(lane_id, text)

    def _apb_reset(self, lane_id: str, value: str, reason: str) -> None:
        card = self.cards[lane_id]
        try:
            closed = self._gate.reset_anti_passback(value, self.actor, reason)
        except ValueError as exc:
            card.set_result(f"✗ Not reset: {exc}", FAIL_COLOR)
            return
        text = (f"Anti-passback reset for {value}: {closed} session(s) closed" if closed
                else f"{value} has no open parking session")
        card.set_result(f"{'✓' if closed else '✗'} {text}", OK_COLOR if closed else FAIL_COLOR)
        if closed:
            card.apb_button.setVisible(False)
        self.actionFinished.emit(lane_id, text)

    def in_flight(self) -> int:
        return len(self._tasks)

    def sizeHint(self) -> QSize:
        return QSize(520, 640)
