"""Sample content bundled with the package for the demo and the tests."""
