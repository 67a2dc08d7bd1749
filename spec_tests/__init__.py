"""Spec tests: the handout's requirements as pytest tests, run against any submission directory."""
