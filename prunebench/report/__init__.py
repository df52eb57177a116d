"""Reports drawn from stored results only: tables, plots, report.md/html, results.json/csv and model export."""
