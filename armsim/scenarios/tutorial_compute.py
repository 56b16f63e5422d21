from armsim.engine import Engine


def build_compute(engine: Engine) -> None:
    pass
