"""Benchmarks behind `hearth bench` and the synthesized models they run on."""
