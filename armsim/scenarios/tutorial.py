from armsim.engine import Engine


def build_network(engine: Engine) -> None:
    engine.ensure_resource_group("myTutorial8", "westus")
