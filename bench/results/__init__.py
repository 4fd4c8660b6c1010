"""The results layer: typed records, the run store, points and the curves file.

It sits below analysis, report, execute and the CLI and imports none of them.
"""
