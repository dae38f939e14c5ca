"""What each CLI verb does once its flags are parsed: `run`, `http`, `check` (the demo
service's command lives with the service in `loadgen.demo`)."""
