"""Loading datasets into the store (csv/parquet/jsonl tables, NCF, MovieLens) in one transaction.

``sources`` tells what was given, ``formats`` reads each format into staged tables
(``staging``), ``checks`` and ``build`` turn them into a dataset's tables, ``images`` checks pin
images, ``fingerprint`` hashes the result, and ``load`` runs it all in one transaction.
"""

from workbench.engine.ingest.fingerprint import fingerprint
from workbench.engine.ingest.load import LoadReport, load_dataset
from workbench.engine.ingest.sources import FORMATS, detect_format

__all__ = ["FORMATS", "LoadReport", "detect_format", "fingerprint", "load_dataset"]
