"""The workers' delivery trackers by send second, merged at the coordinator: a recovery
verdict's fault window counts every worker's messages, on the coordinator's clock."""

from __future__ import annotations

from collections import Counter

import pytest

from loadgen.fleet.deliveries import FleetDeliveries, delivery_bins


class Tracker:
    def __init__(self, sent: dict[int, int], lost: dict[int, int]) -> None:
        self.sent_by_second, self.lost_by_second = Counter(sent), Counter(lost)


def test_the_window_sums_every_workers_seconds():
    fleet = FleetDeliveries()
    assert fleet.tracker() is None  # nobody tracked: no window figures at all
    fleet.add(delivery_bins(Tracker({10: 5, 11: 5, 12: 5}, {11: 2}), 0))
    fleet.add(delivery_bins(Tracker({11: 4, 12: 4}, {11: 1, 12: 3}), 0))
    fleet.add(delivery_bins(None, 0))  # a worker without a tracker
    assert fleet.tracker() is fleet and fleet.reported == 2
    assert fleet.window(11_000_000_000, 12_500_000_000) == (18, 6)
    assert fleet.window(10_000_000_000, 11_000_000_000) == (5, 0)


def test_a_remote_workers_seconds_move_to_the_coordinators_clock():
    bins = delivery_bins(Tracker({100: 7}, {100: 1}), shift_ns=-3_000_000_400)
    assert bins == {"sent": {"103": 7}, "lost": {"103": 1}}


@pytest.mark.parametrize("bad", [{"sent": {"x": 1}}, {"sent": [1, 2]}, {"lost": {"1": "y"}}])
def test_a_malformed_report_is_an_error_the_fleet_names(bad: object):
    with pytest.raises((ValueError, TypeError)):
        FleetDeliveries().add(bad)
