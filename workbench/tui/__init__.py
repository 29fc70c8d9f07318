"""The terminal UI: a Textual shell over the engine (``workbench`` or ``workbench tui``)."""
