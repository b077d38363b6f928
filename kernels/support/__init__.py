"""What programs built on the kernels need from the process, not from the maths: thread
counts and malloc behaviour (`runtime`), output files written atomically (`files`), usage
errors in one line with exit code 2 (`command_line`)."""
