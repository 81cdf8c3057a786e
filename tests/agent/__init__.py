"""Tests for the autonomous agent simulator (safety_eval.agent)."""
