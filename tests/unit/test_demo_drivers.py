"""Demo regulars: a driver is at one bay at a time; their plate and card go together."""

from __future__ import annotations

import random

from app.sim.demo_drivers import DEMO_DRIVERS, DemoDriverPool


def test_a_regular_is_never_at_two_bays_at_once():
    pool = DemoDriverPool(share=1.0)
    rng = random.Random(3)
    cars = [pool(rng) for _ in range(len(DEMO_DRIVERS) + 4)]
    plates = [c.plate for c in cars]
    regulars = {d.plate: d.card for d in DEMO_DRIVERS}
    taken = [p for p in plates if p in regulars]
    assert len(taken) == len(set(taken)) == len(DEMO_DRIVERS)  # then only visitors
    assert all(c.id_tag == regulars[c.plate] for c in cars if c.plate in regulars)
    pool.release(taken[0])
    assert pool(rng).plate == taken[0]  # the only free regular


def test_visitors_come_too():
    pool = DemoDriverPool(share=0.5)
    rng = random.Random(5)
    plates = {pool(rng).plate for _ in range(12)}
    assert plates - {d.plate for d in DEMO_DRIVERS}


def test_a_regular_inside_is_the_one_who_plugs_in():
    pool = DemoDriverPool(share=1.0)
    inside = {DEMO_DRIVERS[3].plate, "ZZ999Z"}  # a regular and a visitor drove in
    pool.inside = lambda: inside
    rng = random.Random(7)
    assert pool(rng).plate == DEMO_DRIVERS[3].plate
    # Nobody else inside: any free regular (the demo's chargers are busy from the start).
    assert pool(rng).plate in {d.plate for d in DEMO_DRIVERS[:3] + DEMO_DRIVERS[4:]}
