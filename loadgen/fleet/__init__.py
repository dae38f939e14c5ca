"""One run across several processes: a coordinator that plans, runs setup() and teardown()
once and judges the merged results, and workers that each run one execution segment."""
