"""The single-file HTML report (`--report FILE.html`, `loadgen report ARCHIVE... -o FILE`).

`collect` turns interval snapshots into bounded per-interval series as they arrive,
`extract` reads the summary data a run already builds, `charts` makes the chart
descriptions, `render` writes the page (everything from the target or the scenario escaped)
and `build` puts them together with the charting library's script inlined, so the file
opens offline.
"""
