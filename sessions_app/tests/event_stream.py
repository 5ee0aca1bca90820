"""Server-sent events parsed the way a browser's EventSource parses them.

The HTML spec ("Parsing an event stream"): a line ends at CRLF, a bare CR or a bare LF;
`field: value` loses one leading space; `data` fields join with LF; a blank line
dispatches the event, and an event with no data is not dispatched. Parsing our streams
with this, rather than with a line splitter of our own choosing, is what makes a framing
test mean something.
"""

from __future__ import annotations

import re

_LINE_END = re.compile(r"\r\n|\r|\n")


def parse(stream: str) -> list[tuple[str, str]]:
    """(event name, data) for each event dispatched, in order."""
    events: list[tuple[str, str]] = []
    name, data = "", []
    # A last line without its line end is never processed (the stream was cut there).
    *lines, _unfinished = _LINE_END.split(stream)
    for line in lines:
        if not line:
            if data:
                events.append((name or "message", "\n".join(data)))
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events
