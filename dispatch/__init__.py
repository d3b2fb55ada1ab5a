"""The domain of a day of shared delivery: orders, fleets, plans, allocation, the CLI."""
