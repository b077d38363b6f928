"""Output: the console, the Markdown and CSV files, the PNG charts and the JSON written
atomically. Above measuring and judging (it shows their figures), below the commands."""
