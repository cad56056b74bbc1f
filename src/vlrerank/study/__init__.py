"""The resolution study: sweep sizes and interpolations over images, store results, report."""
