"""Help > About: what is running, for which site, and where chargers must connect."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ui.theme import app_icon


class AboutDialog(QDialog):
    def __init__(self, core: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About Gatehouse")
        self.setMinimumWidth(440)

        logo = QLabel(self)
        logo.setPixmap(app_icon().pixmap(64, 64))
        title = QLabel("<b>Gatehouse</b>", self)
        title.setObjectName("aboutTitle")
        tagline = QLabel("Parking access and EV charging console", self)
        tagline.setObjectName("muted")
        head_text = QVBoxLayout()
        head_text.setSpacing(2)
        head_text.addWidget(title)
        head_text.addWidget(tagline)
        head_text.addStretch(1)
        head = QHBoxLayout()
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        head.addSpacing(12)
        head.addLayout(head_text, 1)

        # Attributes so tests (and support calls) can read exactly what is shown.
        self.version_label = QLabel(escape(core.version), self)
        self.site_label = QLabel(escape(core.site.name), self)
        self.ocpp_label = QLabel(escape(core.ocpp_url or "not started"), self)
        mode = "Demo — simulated chargers, cameras and barriers" if core.settings.demo \
            else "Live site"
        self.mode_label = QLabel(mode, self)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for name, label in (("Version", self.version_label), ("Site", self.site_label),
                            ("OCPP server", self.ocpp_label), ("Mode", self.mode_label)):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{name}:", label)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 20, 20, 16)
        layout.setSpacing(14)
        layout.addLayout(head)
        layout.addLayout(form)
        layout.addWidget(buttons)
        # Size the dialog now, before it has a native window: changing a shown window's
        # size hints later is what some platforms warn about (offscreen in the tests).
        self.adjustSize()
