"""FIM templates and instruction prompts, shipped inside the wheel as `hearth.prompts`.

This folder holds data only; it is a package so `importlib.resources` can find it.
"""
