"""Reports that put a finished search beside a paper's published table."""
