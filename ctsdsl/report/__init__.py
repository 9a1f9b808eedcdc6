"""Decisions for people and tools, the last stage of the pipeline.

`render` prints decisions and traces as text; `explain` is explain as data (every rule on every line,
with the values it read); `fix` finds the smallest verified changes that make a line payable.
"""
