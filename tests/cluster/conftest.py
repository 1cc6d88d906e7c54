import pytest

from .processes import ProcessCluster


@pytest.fixture
def cluster_factory(tmp_path):
    """Start clusters of broker processes: cluster_factory(brokers=3, **properties)."""
    clusters = []

    def start(brokers: int = 3, controllers: int = 0, **properties) -> ProcessCluster:
        cluster = ProcessCluster(tmp_path / f"cluster-{len(clusters)}", brokers, controllers,
                                 **{k.replace("_", "."): str(v) for k, v in properties.items()})
        clusters.append(cluster)
        cluster.start()
        cluster.wait_until_started()
        return cluster

    yield start
    for cluster in clusters:
        cluster.close()


@pytest.fixture
def cluster(cluster_factory):
    """Three brokers, each also a metadata quorum voter."""
    return cluster_factory()
