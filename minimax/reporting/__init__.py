"""Reporting: what a stored results folder says, never recomputing a cell.

``report`` (the summary text, fits.csv, paired.csv and the figures of a results folder),
``summary`` (the printed blocks), ``pooled_report`` (the multi-seed section), ``paper*`` (the
paper's figures, tables, macros and generated text) and ``figures`` (one figure style for all
of them). Data moves one way: ``minimax.study`` runs cells and fits rates; this package reads
and renders them (docs/design.md).
"""
