"""The workbench engine: pure logic over DuckDB and numpy, importable without Textual."""
