from __future__ import annotations

import pytest

from repohub.auth.accounts import validate_account_name
from repohub.errors import InvalidName
from repohub.repos.names import validate_repo_name, validate_repo_type


@pytest.mark.parametrize("name", ["a", "bert-base", "Model_v1.2", "x" * 96, "0day"])
def test_good_repo_names(name: str) -> None:
    assert validate_repo_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a..b", "-lead", ".hidden", "x.git", "X.GIT", "a/b", "a b", "x" * 97, "é"],
)
def test_bad_repo_names(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_repo_name(name)


@pytest.mark.parametrize("name", ["api", "Datasets", "lfs-transfer", "-x", "a_b", "x" * 40, ""])
def test_bad_account_names(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_account_name(name)


def test_repo_types() -> None:
    assert validate_repo_type(None) == "model"
    assert validate_repo_type("dataset") == "dataset"
    with pytest.raises(InvalidName):
        validate_repo_type("space")
