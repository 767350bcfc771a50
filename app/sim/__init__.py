"""Simulated site: chargers (OCPP clients), cameras and barriers for demo mode and tests."""

from app.sim.barrier import SimBarrier
from app.sim.camera import SimCamera
from app.sim.charger import SimCharger, SimFleet
from app.sim.connector import Timing
from app.sim.identities import identity_for
from app.sim.site import SimSite
from app.sim.vehicles import Vehicle

__all__ = ["SimBarrier", "SimCamera", "SimCharger", "SimFleet", "SimSite", "Timing",
           "Vehicle", "identity_for"]
