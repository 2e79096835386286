import functools

import program_queue   # this folder's helper modules (pytest puts the folder on sys.path)
from program_specs import missing_requirements


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "programs: real PyTorch programs run unmodified (deselect: -m 'not programs')")


def pytest_collection_finish(session):
    """Queue the selected programs (the corpus, then the vision programs) and start one
    background worker: they run beside the in-process tests collected before them."""
    if session.config.option.collectonly:
        return
    for item in session.items:
        name = getattr(item, "originalname", "")
        if name == "test_program_runs_unmodified":
            case = item.callspec.params["case"]
            if not missing_requirements(case):
                program_queue.add(case.id, functools.partial(item.module.run_in_tmp, case))
        elif name == "test_program_reaches_the_torchvision_outcome":
            program = item.callspec.params["program"]
            program_queue.add(item.module.queue_key(program),
                              functools.partial(item.module.run, program))
    program_queue.start(1)


def pytest_sessionfinish(session):
    program_queue.stop()
