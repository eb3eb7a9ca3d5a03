"""simulate: the fast batched bit-accurate simulator (engine.py, kernels.py), the one evaluation
pass over a test set (evaluate.py), the counters of the field's conventions (counters/), and the
report users come for (report.py the command, report_build.py its figures, report_md.py its
Markdown, plots.py its pictures)."""
