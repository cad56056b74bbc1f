"""Command-line face of vlrerank."""
