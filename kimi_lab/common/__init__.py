"""Value types and text helpers every layer uses: events, results, errors, secret scrubbing, tables."""
