"""Result formats: handleSummary data, --summary-export, --summary-json, text summary,
NDJSON (--out json), and the offline `loadgen check` of a summary against thresholds."""
