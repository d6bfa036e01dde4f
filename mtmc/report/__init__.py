"""The run report: ``report.html`` beside a multi-camera run's results, to check its global ids by eye.

``summary`` turns tracklets into what the page shows (pure functions), ``inputs`` reads an
output folder, ``images`` cuts the crops and camera thumbnails, ``html`` renders the page and
``build`` composes them (``write_report``).
"""
