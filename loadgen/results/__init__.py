"""The results pipeline of a run: records -> metric store -> live streams (NDJSON), the judge
(thresholds, test-type verdicts, exit code) and the report (summary data -> writers)."""
