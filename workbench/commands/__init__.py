"""The `workbench` sub-commands, one module per area; `workbench.cli` assembles them."""
