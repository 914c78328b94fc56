import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.region import Region, use_source_tree

use_source_tree()


@pytest.fixture(scope="session")
def region(tmp_path_factory):
    return Region(tmp_path_factory.mktemp("region"))


@pytest.fixture(scope="session")
def foreign_region(tmp_path_factory):
    """Another operator, also named REGION1, with keys of its own."""
    return Region(tmp_path_factory.mktemp("foreign"))
