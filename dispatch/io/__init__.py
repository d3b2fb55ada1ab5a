"""Files in and out of the domain: order files (CSV/XLSX), fleet and party files, the day."""
