"""Planning jobs: queue (RQ or in-process), run, heartbeat, reap. Imports services only."""
