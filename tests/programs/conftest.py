def pytest_configure(config):
    config.addinivalue_line(
        "markers", "programs: real PyTorch programs run unmodified (deselect: -m 'not programs')")
