"""Running the load: the plan (scenarios + flags -> executors), the engine (setup, executors,
stop, teardown, the ticker), each scenario's runtime (VUs and the iteration accounting) and
the live progress display."""
