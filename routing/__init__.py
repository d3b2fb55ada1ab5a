"""Routing core: the road network, matrices and (later) the vehicle-routing solver.

Pure computation: nothing here knows about HTTP, SQL or Redis.
"""
