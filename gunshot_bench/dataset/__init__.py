"""Building, writing and reading the versioned HuggingFace dataset."""
