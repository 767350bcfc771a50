"""A side panel's scrollable body: vertical only, frameless, with the house margins."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def scroll_body(panel: QWidget, object_name: str, spacing: int = 6) -> QVBoxLayout:
    """Give `panel` a vertically scrolling body; returns the body's layout to fill."""
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    scroll = QScrollArea(panel)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    outer.addWidget(scroll)
    body = QWidget(scroll)
    body.setObjectName(object_name)
    scroll.setWidget(body)
    layout = QVBoxLayout(body)
    layout.setContentsMargins(12, 10, 12, 10)
    layout.setSpacing(spacing)
    return layout
