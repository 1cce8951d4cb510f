"""Benchmark adapters: tether, discord.py and hikari against the emulator (base URLs only)."""
