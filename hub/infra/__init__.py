"""What every process stands on: Redis clients, stream consumers, metrics, logs, the loop."""
