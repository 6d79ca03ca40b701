"""Valuation: patent valuation methods, versioned scorecards, grades and credit ceilings.

A leaf app with no models that imports nothing from ``fintech``; the rest of the project uses
only :mod:`valuation.public`.
"""
