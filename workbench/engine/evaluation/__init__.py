"""Offline evaluation of recommenders on held-out pins, in parts: :mod:`.settings` (how),
:mod:`.data` (what is read from the store, once), :mod:`.ranking` (seeded tie-breaking),
:mod:`.trial` (one fitted and scored trial, repeats with intervals), :mod:`.storage` (runs),
:mod:`.stability` (seed-to-seed change of a Monte-Carlo ranking)."""
