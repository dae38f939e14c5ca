"""What a scenario author touches: the `Scenario` base class and file loader, the `VU` handle,
custom metrics (Counter, Gauge, Rate, Trend) and the current-VU context they record through."""
