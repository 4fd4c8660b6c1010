"""Planning jobs, running one job, executors, and the driver loop."""
