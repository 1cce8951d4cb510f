"""Fidelity tests: libraries we did not write, run unmodified against the emulator."""
