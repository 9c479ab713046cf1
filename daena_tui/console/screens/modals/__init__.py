"""Typed modal screens: decisions, confirmations, details, small forms."""
