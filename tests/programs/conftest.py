def pytest_configure(config):
    config.addinivalue_line(
        "markers", "programs: real PyTorch programs run unmodified (deselect: -m 'not programs')")


def pytest_collection_finish(session):
    import program_specs   # this folder's helper module (pytest puts the folder on sys.path)
    program_specs.SELECTED[:] = [item.callspec.params["case"] for item in session.items
                                 if getattr(item, "originalname", "") ==
                                 "test_program_runs_unmodified"]
