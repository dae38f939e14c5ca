"""Build and write the report file: the model, the charts, and plotly.js inlined from the
installed `plotly` package (the file must open offline: no CDN, no request to any host).

plotly rather than bokeh: plotly's figures are plain JSON that this package writes itself
(no Python object model to validate, so a long run's series cost milliseconds), with the
selection menus, log axes and hover built in. Its script is bigger (4.8 MB against bokeh's
1.3 MB + 0.4 MB widgets), so the page carries it gzipped (2.0 MB as base64) and unpacks it
in the browser.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import os
from importlib import resources
from pathlib import Path
from typing import Any

from loadgen.errors import ConfigError
from loadgen.report import charts, extract, render
from loadgen.report.collect import ReportCollector, Series

_JS_CACHE: dict[str, str] = {}


def library_js() -> str:
    """plotly.min.js from the installed package (read once per process)."""
    if "js" not in _JS_CACHE:
        try:
            ref = resources.files("plotly") / "package_data" / "plotly.min.js"
            _JS_CACHE["js"] = ref.read_text(encoding="utf-8")
        except (ModuleNotFoundError, OSError) as e:
            raise ConfigError("--report: the plotly package is not installed or has no "
                              f"plotly.min.js ({e}); pip install plotly") from None
    return _JS_CACHE["js"]


def library_payload() -> str:
    """plotly.min.js gzipped and base64-encoded (4.8 MB -> 2.0 MB in the page); the page
    unpacks it with the browser's own DecompressionStream, no request made."""
    if "gz" not in _JS_CACHE:
        packed = gzip.compress(library_js().encode("utf-8"), 6, mtime=0)
        _JS_CACHE["gz"] = base64.b64encode(packed).decode("ascii")
    return _JS_CACHE["gz"]


def report_problem(flag: str, path: str | None) -> str | None:
    """Checked before a run starts: the target must be writable and end in .html/.htm."""
    if not path:
        return None
    if not path.lower().endswith((".html", ".htm")):
        return f"{flag} {path}: the report is an HTML file (give a name ending in .html)"
    try:
        library_js()
    except ConfigError as e:
        return str(e)
    return None


def build_html(data: dict[str, Any], series: Series | None, *, exit_code: int,
               pvalues: dict[str, dict[str, float]] | None = None,
               run_info: dict[str, Any] | None = None) -> str:
    info = dict(run_info or {})
    info.setdefault("generated", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    m = extract.model(data, series, exit_code=exit_code, pvalues=pvalues, run_info=info)
    figs = charts.figures(series, m["events"]) if series is not None else []
    title = f"loadgen report — {info.get('script') or 'run'}"
    return render.page(m, figs, library_payload(), title)


def write_html_report(path: str, data: dict[str, Any], collector: ReportCollector | None,
                      *, exit_code: int, pvalues: dict[str, dict[str, float]] | None = None,
                      run_info: dict[str, Any] | None = None) -> str | None:
    """Write the file (whole or not at all: a temporary file renamed into place); returns
    what went wrong, for the run's list of result files that could not be written."""
    try:
        series = collector.finish() if collector is not None else None
        text = build_html(data, series, exit_code=exit_code, pvalues=pvalues,
                          run_info=run_info)
    except ConfigError as e:
        return f"--report {path}: {e}"
    except (ValueError, TypeError, KeyError, AttributeError) as e:  # never a traceback:
        return f"--report {path}: the report could not be built ({type(e).__name__}: {e})"
    tmp = Path(f"{path}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        return f"--report {path}: {e.strerror or e}"
    return None
