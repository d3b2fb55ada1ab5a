"""Demand scenarios and co-distribution simulations."""
