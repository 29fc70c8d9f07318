"""The workbench's screens (one per App mode) and its dialogs."""
