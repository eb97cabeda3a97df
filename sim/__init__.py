"""Discrete-event (SimPy) model of the time and energy of every pass."""
